/**
 * uTP over real UDP sockets on 127.0.0.1: a byte-identical transfer, a refused connect
 * (ST_RESET from a socket that does not listen), and the SYN-flood caps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { Network, NodeNetwork } from "../src/net/index.ts"
import { codec, makeUtpSocket } from "../src/utp/index.ts"
import { waitUntil } from "./support/waiting.ts"

const loopback = { host: "127.0.0.1", port: 0 }

describe("uTP on 127.0.0.1", () => {
  it.live("moves 8 MiB byte-identical, then the FIN ends the reader", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const server = yield* makeUtpSocket(yield* net.udp(loopback))
      const client = yield* makeUtpSocket(yield* net.udp(loopback))
      const size = 8 << 20
      const data = new Uint8Array(size)
      for (let i = 0; i < size; i++) data[i] = (i * 7919) >>> 8
      const received = Effect.scoped(Effect.gen(function*() {
        const conn = yield* server.listener.accept
        const hash = createHash("sha256")
        let bytes = 0
        for (;;) {
          const r = yield* Effect.result(conn.read)
          if (r._tag === "Failure") return { bytes, end: r.failure._tag, digest: hash.digest("hex") }
          hash.update(r.success)
          bytes += r.success.length
        }
      }))
      const sent = Effect.scoped(Effect.gen(function*() {
        const conn = yield* client.connect(server.address)
        for (let at = 0; at < size; at += 16397) yield* conn.write(data.subarray(at, Math.min(size, at + 16397)))
        yield* conn.close
      }))
      const [got] = yield* Effect.all([received, sent], { concurrency: 2 })
      assert.strictEqual(got.bytes, size)
      assert.strictEqual(got.end, "ConnectionClosed")
      assert.strictEqual(got.digest, createHash("sha256").update(data).digest("hex"))
    }).pipe(Effect.provide(NodeNetwork.layer)), 60_000)

  it.live("a socket that does not listen refuses with ST_RESET at once", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const closed = yield* makeUtpSocket(yield* net.udp(loopback), { listen: false })
      const client = yield* makeUtpSocket(yield* net.udp(loopback))
      const error = yield* Effect.flip(Effect.scoped(client.connect(closed.address)))
      assert.strictEqual(error._tag, "ConnectRefused")
      assert.strictEqual(closed.stats().synsRefused, 1)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a SYN flood creates at most the half-open caps, per remote and in total", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const server = yield* makeUtpSocket(yield* net.udp(loopback), { maxHalfOpenPerHost: 4, maxHalfOpen: 6 })
      const attacker = yield* net.udp(loopback)
      const answers: Array<number> = []
      attacker.subscribe({ datagram: (p) => answers.push(p[0] ?? 0), idle: () => {}, end: () => {} })
      const syn = (id: number) => {
        const b = new Uint8Array(codec.HEADER_SIZE)
        codec.writeHeader(b, 0, { type: codec.ST_SYN, connectionId: id, timestamp: 1, timestampDiff: 0, wndSize: 1 << 20, seqNr: 1, ackNr: 0 }, 0)
        return b
      }
      for (let id = 0; id < 1000; id += 2) attacker.sendNow(syn(id), server.address)
      // a second source (another port of the same host counts for the same host)
      const other = yield* net.udp(loopback)
      for (let id = 0; id < 100; id += 2) other.sendNow(syn(id), server.address)
      yield* waitUntil("every SYN handled", () => server.stats().synsRefused + server.stats().halfOpen >= 550, 10)
      assert.strictEqual(server.stats().halfOpen, 4)
      assert.strictEqual(server.stats().connections, 4)
      assert.strictEqual(server.stats().synsRefused, 546)
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
