/**
 * One UDP socket per listening port (utp/port.ts), on 127.0.0.1: uTP, KRPC (the DHT) and
 * BEP 15 tracker replies arrive on the same port and each reaches its own view, told
 * apart by the packet's shape; what a view sends leaves from that same port.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type Address, type Datagram, Network, NodeNetwork, type UdpSocket } from "../src/net/index.ts"
import { codec, makeUdpPort } from "../src/utp/index.ts"
import { waitUntil } from "./support/waiting.ts"

const loopback = { host: "127.0.0.1", port: 0 }
const bytes = (text: string) => new TextEncoder().encode(text)

/** Every datagram `socket` receives, in order. */
const collect = (socket: UdpSocket) => {
  const got: Array<Datagram> = []
  socket.subscribe({ datagram: (payload, from) => void got.push({ payload: Uint8Array.from(payload), from }), idle: () => {}, end: () => {} })
  return got
}

const sameAddress = (a: Address, b: Address) => a.host === b.host && a.port === b.port

describe("the shared UDP port", () => {
  it.live("uTP, KRPC and tracker replies on one port, each to its own view; replies leave from that port", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const port = yield* makeUdpPort(loopback)
      const krpc = collect(port.krpc)
      const tracker = collect(port.tracker)
      const remote = yield* net.udp(loopback)
      const atRemote = collect(remote)

      const ping = bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
      // a BEP 15 connect reply: action 0, transaction id, connection id
      const announceReply = new Uint8Array([0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9, 9, 9, 9, 9])
      remote.sendNow(ping, port.address)
      remote.sendNow(announceReply, port.address)
      yield* waitUntil("both datagrams routed", () => krpc.length === 1 && tracker.length === 1, 10)
      assert.deepStrictEqual(krpc[0]?.payload, ping)
      assert.deepStrictEqual(tracker[0]?.payload, announceReply)
      assert.isTrue(sameAddress(krpc[0]?.from ?? loopback, remote.address))

      // a uTP connection through the same port, beside them
      const peer = yield* makeUdpPort(loopback)
      const served = Effect.scoped(Effect.gen(function*() {
        const conn = yield* port.utp.listener.accept
        const got = yield* conn.read
        yield* conn.write(got)
      }))
      const echoed = Effect.scoped(Effect.gen(function*() {
        const conn = yield* peer.utp.connect(port.address)
        yield* conn.write(bytes("hello over uTP"))
        return yield* conn.read
      }))
      const [, echo] = yield* Effect.all([served, echoed], { concurrency: 2 })
      assert.deepStrictEqual(echo, bytes("hello over uTP"))
      // no uTP packet reached the other views, no KRPC one reached uTP
      assert.strictEqual(krpc.length, 1)
      assert.strictEqual(tracker.length, 1)
      assert.isTrue(krpc.concat(tracker).every((d) => !codec.looksLikeUtp(d.payload)))

      // the DHT's and the tracker client's sends leave from the shared port
      port.krpc.sendNow(bytes("d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re"), remote.address)
      port.tracker.sendNow(new Uint8Array(16), remote.address)
      yield* waitUntil("both replies at the remote", () => atRemote.length === 2, 10)
      assert.isTrue(atRemote.every((d) => sameAddress(d.from, port.address)))
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)), 30_000)
})
