/** UDP tracker client (BEP 15) against a small scriptable node:dgram tracker on 127.0.0.1. */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Dgram from "node:dgram"
import { NodeNetwork } from "../src/net/index.ts"
import { type AnnounceRequest, Tracker } from "../src/tracker/index.ts"
import { waitUntil } from "./support/waiting.ts"

interface Packet {
  readonly bytes: Uint8Array
  readonly action: number
  readonly transactionId: number
}

const CONNECTION_ID = 0x1122334455667788n
/** A datagram the test itself sends to the tracker (see `quiet`); never a BEP 15 packet (too short). */
const PROBE = Buffer.from("probe")

/** Standard BEP 15 answers; a test's `script` may drop, rewrite or add to them. */
const standardReply = (p: Packet, connectionCount: number): Array<Uint8Array> => {
  const out = new Uint8Array(p.action === 1 ? 26 : p.action === 2 ? 8 + 12 * ((p.bytes.length - 16) / 20) : 16)
  const v = new DataView(out.buffer)
  v.setUint32(0, p.action)
  v.setUint32(4, p.transactionId)
  if (p.action === 0) v.setBigUint64(8, CONNECTION_ID + BigInt(connectionCount))
  if (p.action === 1) {
    v.setUint32(8, 1800) // interval
    v.setUint32(12, 1) // leechers
    v.setUint32(16, 2) // seeders
    out.set([10, 1, 2, 3, 0x1a, 0xe1], 20) // 10.1.2.3:6881
  }
  if (p.action === 2) {
    for (let i = 0; i < (p.bytes.length - 16) / 20; i++) {
      v.setUint32(8 + 12 * i, 5 + i)
      v.setUint32(12 + 12 * i, 6)
      v.setUint32(16 + 12 * i, 7)
    }
  }
  return [out]
}

const udpTracker = (script: (p: Packet, index: number, standard: Array<Uint8Array>) => Array<Uint8Array> = (_p, _i, s) => s) =>
  Effect.acquireRelease(
    Effect.callback<{ url: string; port: number; packets: Array<Packet>; probes: () => number; socket: Dgram.Socket }>((resume) => {
      const packets: Array<Packet> = []
      let connects = 0
      let probes = 0
      const socket = Dgram.createSocket("udp4")
      socket.on("message", (msg, rinfo) => {
        const bytes = new Uint8Array(msg)
        if (bytes.length === PROBE.length && Buffer.from(bytes).equals(PROBE)) {
          probes++
          return
        }
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        const packet = { bytes, action: v.getUint32(8), transactionId: v.getUint32(12) }
        packets.push(packet)
        if (packet.action === 0) connects++
        for (const reply of script(packet, packets.length - 1, standardReply(packet, connects - 1))) {
          socket.send(reply, rinfo.port, rinfo.address)
        }
      })
      socket.bind(0, "127.0.0.1", () => {
        const port = socket.address().port
        resume(Effect.succeed({ url: `udp://127.0.0.1:${port}/announce`, port, packets, probes: () => probes, socket }))
      })
    }),
    ({ socket }) =>
      Effect.callback<void>((resume) => {
        socket.close(() => resume(Effect.void))
      })
  )

const layer = (udpMaxRetransmit = 8) =>
  Tracker.layer({ udpBind: { host: "127.0.0.1", port: 0 }, udpMaxRetransmit }).pipe(
    Layer.provide([NodeNetwork.layer, FetchHttpClient.layer])
  )

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => 200 - i)
const peerId = Uint8Array.from({ length: 20 }, (_, i) => i + 1)
const req: AnnounceRequest = { infoHash, peerId, port: 51413, uploaded: 3, downloaded: 2 ** 40, left: 7, event: "started", key: 0xcafe }

/** Real IO inside it.effect: wait (in real time) until the tracker has seen `n` packets. */
const seen = (packets: ReadonlyArray<Packet>, n: number) => waitUntil(`the tracker to see ${n} packets`, () => packets.length >= n)
/**
 * ...and that nothing more was sent: a probe datagram sent now reaches the tracker after any
 * datagram our client sent before (both leave this process in order, over loopback), so
 * once the tracker has the probe, it has everything sent until now.
 */
const quiet = (srv: { readonly port: number; readonly packets: ReadonlyArray<Packet>; readonly probes: () => number }, n: number) =>
  Effect.gen(function*() {
    const before = srv.probes()
    const probe = Dgram.createSocket("udp4")
    yield* Effect.callback<void>((resume) => probe.send(PROBE, srv.port, "127.0.0.1", () => resume(Effect.void)))
    yield* waitUntil("the probe datagram", () => srv.probes() > before)
    probe.close()
    assert.strictEqual(srv.packets.length, n)
  })

describe("UDP tracker (BEP 15)", () => {
  it.effect("connect + announce: packet layout and response", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker()
      const tracker = yield* Tracker
      const res = yield* tracker.announce(srv.url, req)
      assert.deepStrictEqual(res, { interval: 1800, incomplete: 1, complete: 2, peers: [{ host: "10.1.2.3", port: 6881 }] })

      const [connect, announce] = srv.packets
      assert.isDefined(connect)
      assert.isDefined(announce)
      if (connect === undefined || announce === undefined) return
      const c = new DataView(connect.bytes.buffer, connect.bytes.byteOffset)
      assert.strictEqual(connect.bytes.length, 16)
      assert.strictEqual(c.getBigUint64(0), 0x41727101980n)
      assert.strictEqual(connect.action, 0)
      const a = new DataView(announce.bytes.buffer, announce.bytes.byteOffset)
      assert.strictEqual(announce.bytes.length, 98)
      assert.strictEqual(a.getBigUint64(0), CONNECTION_ID)
      assert.strictEqual(announce.action, 1)
      assert.deepStrictEqual(Array.from(announce.bytes.subarray(16, 36)), Array.from(infoHash))
      assert.deepStrictEqual(Array.from(announce.bytes.subarray(36, 56)), Array.from(peerId))
      assert.strictEqual(a.getBigUint64(56), 2n ** 40n) // downloaded
      assert.strictEqual(a.getBigUint64(64), 7n) // left
      assert.strictEqual(a.getBigUint64(72), 3n) // uploaded
      assert.strictEqual(a.getUint32(80), 2) // started
      assert.strictEqual(a.getUint32(88), 0xcafe) // key
      assert.strictEqual(a.getInt32(92), -1) // numwant default
      assert.strictEqual(a.getUint16(96), 51413)
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("scrape returns counts in request order", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker()
      const tracker = yield* Tracker
      const other = new Uint8Array(20).fill(1)
      const entries = yield* tracker.scrape(srv.url, [infoHash, other])
      assert.deepStrictEqual(entries.map((e) => [e.infoHash, e.complete, e.downloaded, e.incomplete]), [
        [infoHash, 5, 6, 7],
        [other, 6, 6, 7]
      ])
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("a dropped first packet is retransmitted after 15 s, with the same transaction id", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker((_p, i, standard) => i === 0 ? [] : standard)
      const tracker = yield* Tracker
      const fiber = yield* Effect.forkChild(tracker.announce(srv.url, req))
      yield* seen(srv.packets, 1)
      yield* TestClock.adjust("14 seconds")
      yield* quiet(srv, 1)
      yield* TestClock.adjust("1 second")
      const res = yield* Fiber.join(fiber)
      assert.strictEqual(res.interval, 1800)
      assert.strictEqual(srv.packets.length, 3) // connect, connect again, announce
      assert.strictEqual(srv.packets[0]?.transactionId, srv.packets[1]?.transactionId)
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("the retransmit delay doubles: 15 s, then 30 s, then gives up (max n = 1)", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker(() => [])
      const tracker = yield* Tracker
      const fiber = yield* Effect.forkChild(tracker.announce(srv.url, req))
      yield* seen(srv.packets, 1)
      yield* TestClock.adjust("15 seconds")
      yield* seen(srv.packets, 2)
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const err = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(err._tag, "TrackerUnreachable")
      assert.include(err.message, "no response after 2 attempts")
      yield* quiet(srv, 2)
    }).pipe(Effect.scoped, Effect.provide(layer(1), { local: true })))

  it.effect("a reply with the wrong transaction id is ignored", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker((p, _i, standard) => {
        if (p.action !== 0) return standard
        const forged = new Uint8Array(16)
        const v = new DataView(forged.buffer)
        v.setUint32(4, (p.transactionId ^ 1) >>> 0)
        v.setBigUint64(8, 0xdeadn)
        return [forged, ...standard]
      })
      const tracker = yield* Tracker
      const res = yield* tracker.announce(srv.url, req)
      assert.strictEqual(res.peers.length, 1)
      const announce = srv.packets[1]
      assert.strictEqual(announce?.action, 1)
      if (announce === undefined) return
      // the connection id used is the genuine one, not the forged 0xdead
      assert.strictEqual(new DataView(announce.bytes.buffer, announce.bytes.byteOffset).getBigUint64(0), CONNECTION_ID)
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("error action 3 is a TrackerFailure with the tracker's message", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker((p, _i, standard) => {
        if (p.action !== 1) return standard
        const msg = new TextEncoder().encode("info hash not allowed")
        const out = new Uint8Array(8 + msg.length)
        const v = new DataView(out.buffer)
        v.setUint32(0, 3)
        v.setUint32(4, p.transactionId)
        out.set(msg, 8)
        return [out]
      })
      const tracker = yield* Tracker
      const err = yield* Effect.flip(tracker.announce(srv.url, req))
      assert.strictEqual(err._tag, "TrackerFailure")
      assert.strictEqual(err.message, `tracker ${srv.url} refused: info hash not allowed`)
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("a truncated or wrong-action reply is a TrackerProtocolError", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker((p, _i, standard) => p.action === 1 ? [standard[0]?.subarray(0, 12) ?? new Uint8Array(0)] : standard)
      const tracker = yield* Tracker
      const err = yield* Effect.flip(tracker.announce(srv.url, req))
      assert.strictEqual(err._tag, "TrackerProtocolError")
      assert.include(err.message, "expected at least 20")
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("the connection id is reused for one minute, then renewed", () =>
    Effect.gen(function*() {
      const srv = yield* udpTracker()
      const tracker = yield* Tracker
      yield* tracker.announce(srv.url, req)
      yield* TestClock.adjust("59 seconds")
      const { event: _started, ...regular } = req
      yield* tracker.announce(srv.url, regular)
      assert.deepStrictEqual(srv.packets.map((p) => p.action), [0, 1, 1])
      yield* TestClock.adjust("2 seconds")
      yield* tracker.announce(srv.url, req)
      assert.deepStrictEqual(srv.packets.map((p) => p.action), [0, 1, 1, 0, 1])
      const last = srv.packets[4]
      if (last === undefined) return assert.fail("no last packet")
      assert.strictEqual(new DataView(last.bytes.buffer, last.bytes.byteOffset).getBigUint64(0), CONNECTION_ID + 1n)
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("bad UDP URLs are TrackerRequestError", () =>
    Effect.gen(function*() {
      const tracker = yield* Tracker
      assert.include((yield* Effect.flip(tracker.announce("udp://127.0.0.1/announce", req))).message, "missing or invalid port")
      assert.include((yield* Effect.flip(tracker.announce("udp://[zz/", req))).message, "not a valid URL")
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))
})
