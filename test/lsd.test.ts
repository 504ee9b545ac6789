/**
 * Local Service Discovery (BEP 14): the codec. End to end: lsd-loopback.test.ts (real
 * multicast on 127.0.0.1) and sim-lsd.test.ts (the simulator, rate limits in virtual time).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { toHex } from "../src/bytes.ts"
import { formatAnnounces, hostHeader, LSD_GROUP_V4, MAX_ANNOUNCE_BYTES, parseAnnounce, planAnnounce } from "../src/lsd/index.ts"

const hex = (n: number) => n.toString(16).padStart(2, "0").repeat(20)

describe("LSD codec", () => {
  it("formats and reads an announce; unknown headers are ignored, bad ones refused", () => {
    const [datagram] = formatAnnounces(LSD_GROUP_V4, 6881, [hex(0xab)], "c00k1e")
    const text = new TextDecoder().decode(datagram)
    assert.strictEqual(text, `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${hex(0xab)}\r\ncookie: c00k1e\r\n\r\n\r\n`)
    assert.deepStrictEqual(parseAnnounce(datagram ?? new Uint8Array()), Result.succeed({ port: 6881, infoHashes: [hex(0xab)], cookie: "c00k1e" }))
    const other = new TextEncoder().encode(`BT-SEARCH * HTTP/1.1\r\nHost: x\r\nX-Thing: 1\r\nport: 7\r\nINFOHASH: ${hex(0xAB).toUpperCase()}\r\n\r\n\r\n`)
    assert.deepStrictEqual(parseAnnounce(other), Result.succeed({ port: 7, infoHashes: [hex(0xab)], cookie: null }))
    for (const bad of ["GET / HTTP/1.1\r\n", `BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ${hex(1)}\r\n`, "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 12\r\n", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"]) {
      assert.isTrue(Result.isFailure(parseAnnounce(new TextEncoder().encode(bad))), bad)
    }
  })

  it("property: many info-hashes pack into datagrams of at most 1400 bytes that read back to the same hashes", () => {
    fc.assert(fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 20, maxLength: 20 }).map(toHex), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 65535 }), (hashes, port) => {
      const datagrams = formatAnnounces(LSD_GROUP_V4, port, hashes, "k")
      const back: Array<string> = []
      for (const d of datagrams) {
        assert.isAtMost(d.length, MAX_ANNOUNCE_BYTES)
        const parsed = parseAnnounce(d)
        assert.isTrue(Result.isSuccess(parsed))
        if (Result.isSuccess(parsed)) back.push(...parsed.success.infoHashes)
      }
      assert.deepStrictEqual(back, hashes)
    }))
  })
})

describe("LSD announce plan", () => {
  const MIN = 60_000
  const COOKIE = "0badc0de"
  const torrents = fc.uniqueArray(
    fc.record({ hash: fc.uint8Array({ minLength: 20, maxLength: 20 }).map(toHex), port: fc.constantFrom(6881, 6881, 6881, 7000), at: fc.integer({ min: 0, max: 600_000 }) }),
    { selector: (t) => t.hash, maxLength: 120, size: "max" }
  )

  it("property: a datagram goes only once a torrent is due, carries the most overdue first, only its port, only torrents due within the minute, as many as fit in one datagram", () => {
    fc.assert(fc.property(torrents, fc.integer({ min: 0, max: 600_000 }), (list, now) => {
      const plan = planAnnounce(list, now, MIN, hostHeader(LSD_GROUP_V4), COOKIE)
      const earliest = list.reduce<number | null>((m, t) => (m === null || t.at < m ? t.at : m), null)
      if (plan._tag === "Wait") {
        assert.isTrue(earliest === null || earliest > now)
        assert.strictEqual(plan.until, earliest)
        return
      }
      const byHash = new Map(list.map((t) => [t.hash, t]))
      const chosen = plan.hashes.map((h) => byHash.get(h))
      assert.strictEqual(chosen[0]?.at, earliest, "the most overdue torrent goes first")
      assert.isAtMost(earliest ?? Infinity, now)
      for (const t of chosen) {
        assert.strictEqual(t?.port, plan.port)
        assert.isAtMost(t?.at ?? Infinity, now + MIN)
      }
      assert.strictEqual(formatAnnounces(LSD_GROUP_V4, plan.port, plan.hashes, COOKIE).length, 1, "one datagram within 1400 bytes")
      const left = list.filter((t) => t.port === plan.port && t.at <= now + MIN && !plan.hashes.includes(t.hash))
      const latest = Math.max(...chosen.map((t) => t?.at ?? 0))
      for (const t of left) assert.isAtLeast(t.at, latest, "a more overdue torrent was left out")
      const next = left.sort((a, b) => a.at - b.at)[0]
      if (next !== undefined) assert.strictEqual(formatAnnounces(LSD_GROUP_V4, plan.port, [...plan.hashes, next.hash], COOKIE).length, 2, "room for one more was left")
    }))
  })
})
