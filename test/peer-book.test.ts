import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { peerKey } from "../src/ids.ts"
import { makePeerBook } from "../src/torrent/index.ts"

const a = (host: string, port: number) => ({ host, port })
const k = (host: string, port: number) => peerKey(a(host, port))

describe("peer book (pure)", () => {
  it("hands out each address once until it disconnects, then backs off exponentially after failures", () => {
    const book = makePeerBook()
    assert.strictEqual(book.add([a("10.0.0.1", 1), a("10.0.0.2", 2), a("10.0.0.1", 1)], "tracker", 0), 2)
    const first = book.next(0)
    const second = book.next(0)
    assert.notDeepEqual(first, second)
    assert.isUndefined(book.next(0))
    book.markDisconnected(k("10.0.0.1", 1), true, 1000)
    assert.isUndefined(book.next(15_999), "15 s after the first failure")
    assert.deepStrictEqual(book.next(16_000), a("10.0.0.1", 1))
    book.markDisconnected(k("10.0.0.1", 1), true, 16_000)
    assert.isUndefined(book.next(16_000 + 29_999), "30 s after the second")
    assert.deepStrictEqual(book.next(46_000), a("10.0.0.1", 1))
  })

  it("after a stop (a pause) the peers that were connected are due at once, an incoming one's ephemeral port is forgotten", () => {
    const book = makePeerBook()
    book.add([a("10.0.0.1", 1), a("10.0.0.2", 2)], "magnet", 0)
    book.next(0)
    book.markDisconnected(k("10.0.0.1", 1), true, 100)
    book.next(0)
    book.markConnected(k("10.0.0.3", 40_000), a("10.0.0.3", 40_000))
    assert.strictEqual(book.nextDialAt(), 15_100, "only the failed one waits, for its backoff")
    book.stopped(5000)
    assert.strictEqual(book.candidates(), 2, "no connection counted any more; the incoming one is gone")
    assert.deepStrictEqual(book.next(5000), a("10.0.0.2", 2), "the one that was connected is due at once")
    assert.isUndefined(book.next(5000), "the failed one keeps its backoff")
    assert.deepStrictEqual(book.next(15_100), a("10.0.0.1", 1))
  })

  it("says when the next address is due: the dialler sleeps until then, not on a poll", () => {
    const book = makePeerBook()
    assert.isUndefined(book.nextDialAt(), "an empty book has nothing due")
    book.add([a("10.0.0.1", 1), a("10.0.0.2", 2)], "tracker", 500)
    assert.strictEqual(book.nextDialAt(), 500)
    book.next(500)
    book.next(500)
    assert.isUndefined(book.nextDialAt(), "both connected")
    book.markDisconnected(k("10.0.0.1", 1), true, 1000)
    book.markDisconnected(k("10.0.0.2", 2), false, 2000)
    assert.strictEqual(book.nextDialAt(), 16_000, "the failed one's 15 s backoff ends before the other's 30 s reconnect delay")
    assert.isUndefined(book.next(15_999))
    assert.deepStrictEqual(book.next(book.nextDialAt() ?? 0), a("10.0.0.1", 1))
    assert.strictEqual(book.nextDialAt(), 32_000)
    book.ban(k("10.0.0.2", 2))
    assert.isUndefined(book.nextDialAt(), "a banned address is never due")
  })

  it("forgets an address after five failures in a row, until a source announces it again", () => {
    const book = makePeerBook()
    book.add([a("10.0.0.1", 1)], "dht", 0)
    let t = 0
    for (let i = 0; i < 5; i++) {
      t += 700_000
      assert.isDefined(book.next(t))
      book.markDisconnected(k("10.0.0.1", 1), true, t)
    }
    assert.isUndefined(book.next(t + 10_000_000))
    assert.strictEqual(book.candidates(), 0)
    book.add([a("10.0.0.1", 1)], "tracker", t)
    assert.deepStrictEqual(book.next(t), a("10.0.0.1", 1))
  })

  it("a ban covers the peer's IP on a real network, but only host:port on loopback", () => {
    const book = makePeerBook()
    book.ban(k("10.0.0.9", 6881))
    assert.isTrue(book.isBanned(k("10.0.0.9", 51234)), "the same IP from another port")
    assert.strictEqual(book.add([a("10.0.0.9", 7000)], "pex", 0), 0)
    book.ban(k("127.0.0.1", 7001))
    assert.isTrue(book.isBanned(k("127.0.0.1", 7001)))
    assert.isFalse(book.isBanned(k("127.0.0.1", 7002)), "other local peers stay usable")
    book.ban(k("::1", 9000))
    assert.isFalse(book.isBanned(k("::1", 9001)))
  })

  it("never dials the ephemeral port of an incoming connection; its announced listen address counts as connected", () => {
    const book = makePeerBook()
    book.markConnected(k("10.0.0.5", 49152), a("10.0.0.5", 49152))
    book.alias(k("10.0.0.5", 49152), a("10.0.0.5", 6881))
    book.add([a("10.0.0.5", 6881)], "pex", 0)
    assert.isUndefined(book.next(0), "the peer is already connected through its incoming connection")
    book.markDisconnected(k("10.0.0.5", 49152), false, 1000)
    assert.strictEqual(book.candidates(), 1, "only the listen address is left, not the ephemeral port")
    assert.isUndefined(book.next(1000), "not redialled at once")
    assert.deepStrictEqual(book.next(1000 + 30_000), a("10.0.0.5", 6881))
  })

  it("remembers which opening worked, and whether the peer prefers encryption", () => {
    const book = makePeerBook()
    book.add([a("10.0.0.1", 1), { ...a("10.0.0.2", 2), prefersEncryption: true }], "pex", 0)
    assert.isUndefined(book.openingOf(k("10.0.0.1", 1)))
    assert.isFalse(book.prefersEncryption(k("10.0.0.1", 1)))
    assert.isTrue(book.prefersEncryption(k("10.0.0.2", 2)), "PEX said so")
    assert.deepStrictEqual(book.next(0), a("10.0.0.1", 1), "hand-outs carry the address only")
    book.opened(k("10.0.0.1", 1), "mse")
    assert.strictEqual(book.openingOf(k("10.0.0.1", 1)), "mse")
    assert.isTrue(book.prefersEncryption(k("10.0.0.1", 1)), "it spoke MSE with us")
    book.opened(k("10.0.0.2", 2), "plain")
    assert.strictEqual(book.openingOf(k("10.0.0.2", 2)), "plain")
    assert.isFalse(book.prefersEncryption(k("10.0.0.2", 2)), "plaintext worked: the newer evidence wins")
    book.add([{ ...a("10.0.0.2", 2), prefersEncryption: true }], "pex", 1)
    assert.isTrue(book.prefersEncryption(k("10.0.0.2", 2)), "until PEX says so again")
    // an incoming MSE connection: what worked carries over to its listening address
    book.markConnected(k("10.0.0.3", 50000), a("10.0.0.3", 50000))
    book.opened(k("10.0.0.3", 50000), "mse")
    book.alias(k("10.0.0.3", 50000), a("10.0.0.3", 6881))
    assert.strictEqual(book.openingOf(k("10.0.0.3", 6881)), "mse")
    assert.isTrue(book.prefersEncryption(k("10.0.0.3", 6881)))
  })
})

/**
 * The book keeps its waiting addresses in heaps (issue 18: the dialler scanned every entry
 * twice per dial); what it hands out must be what a scan of every entry picks: the fewest
 * failures, then the earliest retry time, then the oldest entry.
 */
describe("peer book: next and nextDialAt agree with a scan of every entry", () => {
  interface Model {
    failures: number
    retryAt: number
    connected: boolean
    incoming: boolean
  }
  const MAX_FAILURES = 5
  const op = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), hosts: fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 4 }) }),
    fc.record({ kind: fc.constant("next" as const) }),
    fc.record({ kind: fc.constant("incoming" as const), host: fc.integer({ min: 1, max: 12 }) }),
    fc.record({ kind: fc.constant("disconnect" as const), host: fc.integer({ min: 1, max: 14 }), failed: fc.boolean() }),
    fc.record({ kind: fc.constant("ban" as const), host: fc.integer({ min: 1, max: 14 }) }),
    fc.record({ kind: fc.constant("wait" as const), millis: fc.integer({ min: 0, max: 40_000 }) }),
    fc.record({ kind: fc.constant("stop" as const) })
  )
  it("random operations", () => fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
    const book = makePeerBook()
    const model = new Map<string, Model>()
    const bannedHosts = new Set<string>()
    let now = 0
    const addr = (n: number, incoming = false) => a(`10.0.${incoming ? 1 : 0}.${n}`, incoming ? 50_000 + n : 6881)
    const due = (): number | undefined => {
      let at: number | undefined
      for (const m of model.values()) if (!m.connected && m.failures < MAX_FAILURES && (at === undefined || m.retryAt < at)) at = m.retryAt
      return at
    }
    for (const o of ops) {
      switch (o.kind) {
        case "add":
          for (const h of o.hosts) {
            const key = peerKey(addr(h))
            if (bannedHosts.has(addr(h).host)) continue
            const m = model.get(key)
            if (m === undefined) model.set(key, { failures: 0, retryAt: now, connected: false, incoming: false })
            else if (!m.connected && m.failures >= MAX_FAILURES) Object.assign(m, { failures: 0, retryAt: now })
          }
          book.add(o.hosts.map((h) => addr(h)), "tracker", now)
          break
        case "next": {
          // the scan's pick among the entries due now (ties: the oldest, i.e. Map order)
          let best: { key: string; m: Model } | undefined
          for (const [key, m] of model) {
            if (m.connected || m.failures >= MAX_FAILURES || m.retryAt > now) continue
            if (best === undefined || m.failures < best.m.failures || (m.failures === best.m.failures && m.retryAt < best.m.retryAt)) best = { key, m }
          }
          const got = book.next(now)
          assert.strictEqual(got === undefined ? undefined : peerKey(got), best?.key)
          if (best !== undefined) best.m.connected = true
          break
        }
        case "incoming": {
          const key = peerKey(addr(o.host, true))
          if (model.has(key)) break
          book.markConnected(key, addr(o.host, true))
          model.set(key, { failures: 0, retryAt: 0, connected: true, incoming: true })
          break
        }
        case "disconnect": {
          const key = peerKey(addr(o.host, o.host > 12))
          const m = model.get(key)
          book.markDisconnected(key, o.failed, now)
          if (m === undefined) break
          if (m.incoming) model.delete(key)
          else if (o.failed) Object.assign(m, { connected: false, failures: m.failures + 1, retryAt: now + Math.min(600_000, 15_000 * 2 ** m.failures) })
          else Object.assign(m, { connected: false, failures: 0, retryAt: now + 30_000 })
          break
        }
        case "ban": {
          const address = addr(o.host, o.host > 12)
          const key = peerKey(address)
          book.ban(key)
          bannedHosts.add(address.host)
          const m = model.get(key)
          if (m !== undefined && !m.connected) model.delete(key)
          else if (m !== undefined) m.failures = MAX_FAILURES
          break
        }
        case "wait":
          now += o.millis
          break
        case "stop":
          book.stopped(now)
          for (const [key, m] of model) {
            if (!m.connected) continue
            if (m.incoming) model.delete(key)
            else Object.assign(m, { connected: false, retryAt: now })
          }
          break
      }
      assert.strictEqual(book.nextDialAt(), due())
    }
  }), { numRuns: 300 }))
})
