/**
 * One uTP connection's state machine on its own (src/utp/connection.ts, pure): two ends
 * wired together by hand, the test deciding which packet arrives when. What BEP 29 asks
 * of it: the retransmission time-out (1 s at first, doubling; then rtt + 4·rtt_var, at
 * least 500 ms), fast retransmission after 3 duplicate acks and after a selective ack
 * past a hole, the receive window pushing back on the sender, payloads that fit an MTU,
 * FIN and RESET; and, as a property, byte-identical delivery under loss, duplication and
 * reordering.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import {
  emptyHeader,
  HEADER_SIZE,
  type PacketHeader,
  parseInto,
  seqAdd,
  ST_DATA,
  ST_FIN,
  ST_STATE,
  ST_SYN,
  writeHeader
} from "../src/utp/codec.ts"
import * as Utp from "../src/utp/connection.ts"

type Conn = Utp.UtpConn

/** One end's outside world: the datagrams it sent (copied: the state machine rewrites its buffers) and its events. */
const recorder = () => {
  const sent: Array<Uint8Array> = []
  const events: Array<string> = []
  const io: Utp.UtpIo = {
    send: (packet) => void sent.push(Uint8Array.from(packet)),
    connected: () => void events.push("connected"),
    readable: () => void events.push("readable"),
    writable: () => void events.push("writable"),
    closed: (reason) => void events.push(`closed:${reason}`)
  }
  return { io, sent, events }
}
type Recorder = ReturnType<typeof recorder>

const header = (packet: Uint8Array): PacketHeader => {
  const h = emptyHeader()
  const reason = parseInto(packet, h)
  if (reason !== undefined) throw new Error(`our own packet does not parse: ${reason}`)
  return h
}

interface End {
  readonly conn: Conn
  readonly rec: Recorder
}

/** Hands `packet` to `to` as one burst (its acknowledgement goes out at the end). */
const deliver = (to: End, packet: Uint8Array, now: number): void => {
  Utp.receive(to.conn, header(packet), packet, to.rec.io, now)
  Utp.burstEnd(to.conn, to.rec.io, now)
}

const ms = (n: number) => n * 1000

/** A connected pair: `a` dialled `b`, the SYN and its answer took `rttMs` in all. */
const pair = (config: Utp.UtpConfig, rttMs = 0): { readonly a: End; readonly b: End; readonly now: number } => {
  const ra = recorder()
  const a = Utp.openOutgoing(config, { recvId: 7, sendId: 8, seqNr: 100 }, ra.io, 0)
  const syn = ra.sent.shift()
  if (syn === undefined) throw new Error("no SYN")
  const rb = recorder()
  const b = Utp.acceptSyn(config, header(syn), 5000, rb.io, ms(rttMs / 2))
  const answer = rb.sent.shift()
  if (answer === undefined) throw new Error("no answer to the SYN")
  deliver({ conn: a, rec: ra }, answer, ms(rttMs))
  return { a: { conn: a, rec: ra }, b: { conn: b, rec: rb }, now: ms(rttMs) }
}

/** Everything the reader can take now, concatenated. */
const drain = (end: End, now: number): Uint8Array => {
  const chunks: Array<Uint8Array> = []
  for (let c = Utp.take(end.conn); c !== undefined; c = Utp.take(end.conn)) chunks.push(c)
  Utp.readDone(end.conn, end.rec.io, now)
  return Buffer.concat(chunks)
}

/** Moves datagrams both ways until neither end has anything to send; returns the datagrams moved. */
const pump = (a: End, b: End, now: number): number => {
  let moved = 0
  for (let rounds = 0; rounds < 100_000; rounds++) {
    const fromA = a.rec.sent.splice(0)
    const fromB = b.rec.sent.splice(0)
    if (fromA.length === 0 && fromB.length === 0) return moved
    for (const p of fromA) deliver(b, p, now)
    for (const p of fromB) deliver(a, p, now)
    moved += fromA.length + fromB.length
  }
  throw new Error("the ends never went quiet")
}

/** An ST_STATE from `from`'s peer acknowledging up to `ackNr`, with no selective ack: a duplicate ack. */
const plainAck = (to: Conn, ackNr: number, now: number, wndSize = 1 << 20): Uint8Array => {
  const buf = new Uint8Array(HEADER_SIZE)
  writeHeader(buf, 0, { type: ST_STATE, connectionId: to.recvId, timestamp: now >>> 0, timestampDiff: 1000, wndSize, seqNr: 5000, ackNr }, 0)
  return buf
}

const dataSeqs = (packets: ReadonlyArray<Uint8Array>): Array<number> =>
  packets.map(header).filter((h) => h.type === ST_DATA).map((h) => h.seqNr)

const payload = (n: number, seed: number): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** Equal bytes, reported by length and first difference (a full diff of megabytes helps nobody). */
const assertSame = (got: Uint8Array, want: Uint8Array): void => {
  let i = 0
  while (i < got.length && i < want.length && got[i] === want[i]) i++
  assert.deepStrictEqual({ length: got.length, firstDifference: i === got.length && i === want.length ? -1 : i }, { length: want.length, firstDifference: -1 })
}

const config: Utp.UtpConfig = Utp.DEFAULT_CONFIG
/** Room for a few packets in flight from the first round trip on. */
const wide: Utp.UtpConfig = { ...config, ledbat: { ...config.ledbat, initialWindow: 16 * config.packetBytes } }

describe("uTP connection (pure state machine)", () => {
  it("an unanswered SYN goes again after 1 s, then 2 s, and the connect fails after synRetries", () => {
    const rec = recorder()
    const c = Utp.openOutgoing(config, { recvId: 7, sendId: 8, seqNr: 100 }, rec.io, 0)
    assert.strictEqual(rec.sent.length, 1)
    assert.strictEqual(header(rec.sent[0] ?? new Uint8Array()).type, ST_SYN)
    const at = (msTime: number) => {
      Utp.tick(c, rec.io, ms(msTime))
      return rec.sent.length
    }
    assert.strictEqual(at(999.999), 1)
    assert.strictEqual(at(1000), 2)
    assert.strictEqual(at(2999.999), 2)
    assert.strictEqual(at(3000), 3)
    assert.deepStrictEqual(rec.events, [])
    assert.strictEqual(at(6999.999), 3)
    // the third time-out passes synRetries (2): given up, nothing more sent
    assert.strictEqual(at(7000), 3)
    assert.deepStrictEqual(rec.events, [`closed:TimedOut`])
    for (const p of rec.sent) assert.strictEqual(header(p).seqNr, 100)
  })

  it("the time-out is rtt + 4·rtt_var from the samples, at least 500 ms, and doubles on each time-out", () => {
    // a 40 ms handshake: 40 + 4·20 = 120 ms, so the 500 ms floor
    assert.strictEqual(pair(config, 40).a.conn.rtoMs, 500)
    // a 300 ms handshake: 300 + 4·150 = 900 ms
    const { a, b, now } = pair(config, 300)
    assert.strictEqual(a.conn.rtoMs, 900)
    // one data packet, acknowledged 300 ms later: rtt_var 150 + (0 - 150)/4 = 112.5 → 750 ms
    assert.isTrue(Utp.write(a.conn, a.rec.io, [payload(100, 1)], now))
    const [first] = a.rec.sent.splice(0)
    if (first === undefined) throw new Error("nothing sent")
    deliver(b, first, now + ms(150))
    const ack = b.rec.sent.splice(0)
    for (const p of ack) deliver(a, p, now + ms(300))
    assert.strictEqual(a.conn.rtoMs, 750)
    // a packet nobody answers goes again after exactly 750 ms, then after 1500 ms
    const t0 = now + ms(300)
    Utp.write(a.conn, a.rec.io, [payload(100, 2)], t0)
    assert.strictEqual(a.rec.sent.splice(0).length, 1)
    Utp.tick(a.conn, a.rec.io, t0 + ms(749.999))
    assert.strictEqual(a.rec.sent.length, 0)
    Utp.tick(a.conn, a.rec.io, t0 + ms(750))
    assert.strictEqual(a.rec.sent.splice(0).length, 1)
    Utp.tick(a.conn, a.rec.io, t0 + ms(750 + 1499.999))
    assert.strictEqual(a.rec.sent.length, 0)
    Utp.tick(a.conn, a.rec.io, t0 + ms(750 + 1500))
    assert.strictEqual(a.rec.sent.splice(0).length, 1)
  })

  it("three duplicate acks resend the oldest unacknowledged packet at once, not before the third", () => {
    const { a, now } = pair(wide)
    Utp.write(a.conn, a.rec.io, [payload(6 * config.packetBytes, 3)], now)
    const seqs = dataSeqs(a.rec.sent.splice(0))
    assert.strictEqual(seqs.length, 6)
    const [first] = seqs
    if (first === undefined) throw new Error("nothing sent")
    // the remote got nothing of it: it acknowledges what came before, again and again
    const dup = () => deliver(a, plainAck(a.conn, seqAdd(first, -1), now), now + ms(10))
    dup()
    dup()
    assert.deepStrictEqual(dataSeqs(a.rec.sent), [])
    dup()
    assert.deepStrictEqual(dataSeqs(a.rec.sent.splice(0)), [first])
    assert.strictEqual(a.conn.counters.fastResends, 1)
    // a fourth duplicate does not resend it again (one fast retransmission per hole)
    dup()
    assert.deepStrictEqual(dataSeqs(a.rec.sent), [])
  })

  it("a selective ack past a hole: the acknowledged packets are never resent, the hole is, before any time-out", () => {
    const { a, b, now } = pair(wide)
    const data = payload(8 * config.packetBytes, 4)
    Utp.write(a.conn, a.rec.io, [data], now)
    const packets = a.rec.sent.splice(0)
    const seqs = dataSeqs(packets)
    assert.strictEqual(seqs.length, 8)
    // the first packet is lost: the rest arrive and each ack carries a selective ack
    for (const p of packets.slice(1)) deliver(b, p, now + ms(5))
    const acks = b.rec.sent.splice(0)
    assert.strictEqual(acks.length, 7)
    for (const h of acks.map(header)) {
      assert.strictEqual(h.type, ST_STATE)
      assert.strictEqual(h.ackNr, seqAdd(seqs[0] ?? 0, -1))
      assert.isDefined(h.sack)
    }
    const t1 = now + ms(10)
    const resent: Array<Uint8Array> = []
    for (const ack of acks) {
      deliver(a, ack, t1)
      resent.push(...a.rec.sent.splice(0))
    }
    assert.deepStrictEqual(dataSeqs(resent), [seqs[0]])
    // the resent packet fills the hole: the reader gets everything, in order
    for (const p of resent) deliver(b, p, t1)
    pump(a, b, t1)
    assertSame(drain(b, t1), data)
    // a time-out long after has nothing left to resend
    Utp.tick(a.conn, a.rec.io, t1 + ms(10_000))
    assert.deepStrictEqual(dataSeqs(a.rec.sent), [])
  })

  it("the receive window pushes back: a reader that does not read stops the sender; reading starts it again", () => {
    const small: Utp.UtpConfig = { ...wide, receiveWindow: 16 * config.packetBytes, sendBuffer: 64 * config.packetBytes }
    const { a, b, now } = pair(small)
    const data = payload(200 * config.packetBytes + 17, 5)
    let written = 0
    const writeMore = (t: number) => {
      while (written < data.length) {
        const chunk = data.subarray(written, Math.min(data.length, written + 16 * 1024))
        written += chunk.length
        if (!Utp.write(a.conn, a.rec.io, [chunk], t)) return
      }
    }
    writeMore(now)
    pump(a, b, now)
    // nobody reads: the sender went quiet with at most the window (and its slack) delivered
    const held = b.conn.inboxBytes
    assert.isAtLeast(held, small.receiveWindow - config.packetBytes)
    assert.isAtMost(held, small.receiveWindow + 4 * config.packetBytes)
    assert.isBelow(held, data.length)
    const received: Array<Uint8Array> = []
    let t = now
    for (let rounds = 0; rounds < 10_000 && Buffer.concat(received).length < data.length; rounds++) {
      t += ms(1)
      received.push(drain(b, t))
      if (a.rec.events.includes("writable")) {
        a.rec.events.length = 0
        writeMore(t)
      }
      pump(a, b, t)
      assert.isAtMost(b.conn.inboxBytes, small.receiveWindow + 4 * config.packetBytes)
    }
    assertSame(Buffer.concat(received), data)
    // the sender kept to the window: nothing dropped, no time-out needed to reopen it
    assert.strictEqual(b.conn.counters.overflowDrops, 0)
    assert.strictEqual(a.conn.counters.timeouts, 0)
  })

  it("a closed window whose reopening is lost: the sender probes after the time-out and goes on", () => {
    const small: Utp.UtpConfig = { ...wide, receiveWindow: 8 * config.packetBytes }
    const { a, b, now } = pair(small, 40)
    const data = payload(40 * config.packetBytes, 8)
    Utp.write(a.conn, a.rec.io, [data], now)
    pump(a, b, now)
    assert.isBelow(b.conn.inboxBytes, data.length)
    const first = drain(b, now)
    // the window update the reader's progress sent is lost
    assert.isAbove(b.rec.sent.splice(0).length, 0)
    let t = now
    const received = [first]
    for (let rounds = 0; rounds < 200 && Buffer.concat(received).length < data.length; rounds++) {
      t += ms(100)
      Utp.tick(a.conn, a.rec.io, t)
      pump(a, b, t)
      received.push(drain(b, t))
      pump(a, b, t)
    }
    assertSame(Buffer.concat(received), data)
    assert.strictEqual(b.conn.counters.overflowDrops, 0)
    // the probe did not cost the congestion window its size
    assert.isAbove(a.conn.ledbat.cwnd, config.packetBytes)
  })

  it("FIN: the reader gets every byte, then the end; the closing side is done once its FIN is acknowledged", () => {
    const { a, b, now } = pair(wide)
    const data = payload(5 * config.packetBytes + 3, 6)
    Utp.write(a.conn, a.rec.io, [data], now)
    Utp.close(a.conn, a.rec.io, now)
    const packets = a.rec.sent.splice(0)
    const fin = packets.at(-1)
    assert.strictEqual(fin === undefined ? undefined : header(fin).type, ST_FIN)
    // the FIN overtakes the data: the end waits for the bytes before it
    for (const p of [...packets].reverse()) deliver(b, p, now)
    assert.isTrue(!Utp.drainedToEnd(b.conn))
    assertSame(drain(b, now), data)
    assert.isTrue(Utp.drainedToEnd(b.conn))
    pump(a, b, now)
    assert.deepStrictEqual(a.rec.events, ["connected", "closed:Closed"])
  })

  it("ST_RESET: a connected end closes with Reset; a SYN answered with RESET is Refused", () => {
    const { a, now } = pair(config)
    deliver(a, Utp.resetPacket(a.conn.recvId, 1, 1, now), now)
    assert.deepStrictEqual(a.rec.events, ["connected", "closed:Reset"])
    const rec = recorder()
    const c = Utp.openOutgoing(config, { recvId: 9, sendId: 10, seqNr: 1 }, rec.io, 0)
    deliver({ conn: c, rec }, Utp.resetPacket(9, 1, 1, 0), ms(1))
    assert.deepStrictEqual(rec.events, ["closed:Refused"])
  })

  it("an ack for a packet never sent is ignored", () => {
    const { a, now } = pair(wide)
    Utp.write(a.conn, a.rec.io, [payload(3 * config.packetBytes, 7)], now)
    const seqs = dataSeqs(a.rec.sent.splice(0))
    const inFlight = a.conn.inFlight
    deliver(a, plainAck(a.conn, seqAdd(seqs.at(-1) ?? 0, 50), now), now + ms(1))
    assert.strictEqual(a.conn.inFlight, inFlight)
    assert.strictEqual(a.conn.ackedSeq, seqAdd(seqs[0] ?? 0, -1))
  })

  it("property: any writes arrive byte-identical under loss, duplication and reordering, in datagrams that fit a 1500-byte MTU", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.constantFrom(0, 0.01, 0.05, 0.1),
        (sizes, seed, loss) => {
          const { a, b, now } = pair(config, 20)
          const data = payload(sizes.reduce((x, y) => x + y, 0), seed)
          const chunks: Array<Uint8Array> = []
          for (let at = 0, i = 0; i < sizes.length; at += sizes[i] ?? 0, i++) chunks.push(data.subarray(at, at + (sizes[i] ?? 0)))
          let rng = seed | 1
          const random = () => {
            rng ^= rng << 13
            rng ^= rng >>> 17
            rng ^= rng << 5
            return (rng >>> 0) / 2 ** 32
          }
          // in flight: [arrival time, packet], each way
          const wire: Array<{ at: number; to: End; packet: Uint8Array }> = []
          const send = (from: End, to: End, t: number) => {
            for (const p of from.rec.sent.splice(0)) {
              // IPv6 (40) + UDP (8) + uTP: within 1500 bytes
              assert.isAtMost(p.length + 48, 1500)
              if (random() < loss) continue
              const copies = random() < 0.05 ? 2 : 1
              for (let k = 0; k < copies; k++) wire.push({ at: t + ms(10 + random() * 20), to, packet: p })
            }
          }
          let next = 0
          const received: Array<Uint8Array> = []
          let t = now
          for (let step = 0; step < 200_000; step++) {
            while (next < chunks.length) {
              const chunk = chunks[next]
              if (chunk === undefined || !Utp.write(a.conn, a.rec.io, [chunk], t)) break
              next++
            }
            if (next === chunks.length && !a.conn.closing) Utp.close(a.conn, a.rec.io, t)
            send(a, b, t)
            send(b, a, t)
            wire.sort((x, y) => x.at - y.at)
            const arrival = wire[0]
            const nextTimer = Math.min(a.conn.timeoutAt, b.conn.timeoutAt) * 1000
            const nextEvent = Math.min(arrival?.at ?? Infinity, nextTimer)
            if (nextEvent === Infinity) break
            t = Math.max(t, nextEvent)
            if (arrival !== undefined && arrival.at <= t) {
              wire.shift()
              deliver(arrival.to, arrival.packet, t)
            }
            Utp.tick(a.conn, a.rec.io, t)
            Utp.tick(b.conn, b.rec.io, t)
            received.push(drain(b, t))
            if (a.rec.events.includes("writable")) a.rec.events.length = 0
            if (Utp.drainedToEnd(b.conn) && a.conn.phase === "Closed") break
          }
          assertSame(Buffer.concat(received), data)
          assert.isTrue(Utp.drainedToEnd(b.conn))
        }
      ),
      { numRuns: 40 }
    )
  })
})
