/**
 * The transport policy (peer/transport.ts): the order transports are tried in per peer,
 * the memory of what worked (bounded), and the dialler on real sockets on 127.0.0.1:
 * a peer that swallows uTP is reached over TCP after the fallback delay, and the next
 * dial goes straight to TCP; a peer that speaks only uTP is reached over uTP.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { type Address, Network, NodeNetwork } from "../src/net/index.ts"
import { makeTransportMemory, orderFor, tcpDialer, transportDialer } from "../src/peer/index.ts"
import { codec, makeUtpSocket, utpDialer } from "../src/utp/index.ts"
import { waitUntil } from "./support/waiting.ts"

const peer = (port: number): Address => ({ host: "127.0.0.1", port })
const infoHash = new Uint8Array(20)

describe("transport order and memory", () => {
  it("the configured order, unless the peer is known: what last worked first, else uTP when PEX said so", () => {
    const memory = makeTransportMemory()
    assert.deepStrictEqual(orderFor(["utp", "tcp"], memory, peer(1)), ["utp", "tcp"])
    assert.deepStrictEqual(orderFor(["tcp", "utp"], memory, peer(1)), ["tcp", "utp"])
    memory.hintUtp(peer(2))
    assert.isTrue(memory.speaksUtp(peer(2)))
    assert.deepStrictEqual(orderFor(["tcp", "utp"], memory, peer(2)), ["utp", "tcp"])
    // what worked beats the hint, and is what PEX then says
    memory.record(peer(2), "tcp")
    assert.isFalse(memory.speaksUtp(peer(2)))
    assert.deepStrictEqual(orderFor(["utp", "tcp"], memory, peer(2)), ["tcp", "utp"])
    memory.record(peer(3), "utp")
    assert.isTrue(memory.speaksUtp(peer(3)))
    // a transport the client does not use is never added
    assert.deepStrictEqual(orderFor(["tcp"], memory, peer(3)), ["tcp"])
    // keyed by host and port
    assert.isUndefined(memory.worked(peer(4)))
    assert.isUndefined(memory.worked({ host: "127.0.0.2", port: 3 }))
  })

  it("the memory is bounded: the least recently touched peers are forgotten first", () => {
    const memory = makeTransportMemory(3)
    memory.record(peer(1), "tcp")
    memory.record(peer(2), "utp")
    memory.record(peer(3), "tcp")
    memory.hintUtp(peer(1)) // touched again: now the newest
    memory.record(peer(4), "utp")
    assert.strictEqual(memory.worked(peer(1)), "tcp")
    assert.isUndefined(memory.worked(peer(2)))
    assert.strictEqual(memory.worked(peer(3)), "tcp")
    assert.strictEqual(memory.worked(peer(4)), "utp")
  })
})

describe("transportDialer on 127.0.0.1", () => {
  it.live("a peer that swallows uTP is reached over TCP after the fallback, and dialled over TCP first next time", () =>
    Effect.gen(function*() {
      const net = yield* Network
      // the peer: TCP accepts; its UDP port of the same number receives and never answers
      const listener = yield* net.listen({ host: "127.0.0.1", port: 0 })
      const silent = yield* net.udp({ host: "127.0.0.1", port: listener.address.port })
      let syns = 0
      silent.subscribe({
        datagram: (p) => {
          if (codec.looksLikeUtp(p) && (p[0] ?? 0) >> 4 === codec.ST_SYN) syns++
        },
        idle: () => {},
        end: () => {}
      })
      const accepted: Array<number> = []
      yield* Effect.forkScoped(Effect.forever(Effect.scoped(Effect.flatMap(listener.accept, (c) => Effect.sync(() => accepted.push(c.remote.port))))))
      const utp = yield* makeUtpSocket(yield* net.udp({ host: "127.0.0.1", port: 0 }), { listen: false })
      const memory = makeTransportMemory()
      const dial = transportDialer({
        dialers: { utp: utpDialer(utp, "20 seconds"), tcp: yield* tcpDialer("20 seconds") },
        order: ["utp", "tcp"],
        memory,
        fallbackAfter: "200 millis"
      })
      const first = yield* Effect.scoped(Effect.map(dial(listener.address, infoHash), (c) => c.transport ?? "tcp"))
      assert.strictEqual(first, "tcp")
      assert.strictEqual(memory.worked(listener.address), "tcp")
      assert.isAtLeast(syns, 1)
      yield* waitUntil("the first TCP connection accepted", () => accepted.length >= 1, 10)
      // the uTP attempt that lost the race was called off: no connection left behind
      yield* waitUntil("the losing uTP attempt gone", () => utp.stats().connections === 0, 10)
      const synsBefore = syns
      // next time TCP goes first and connects before the fallback delay: no uTP SYN at all
      const second = yield* Effect.scoped(Effect.map(dial(listener.address, infoHash), (c) => c.transport ?? "tcp"))
      assert.strictEqual(second, "tcp")
      yield* waitUntil("the second TCP connection accepted", () => accepted.length >= 2, 10)
      assert.strictEqual(syns, synsBefore)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)), 60_000)

  it.live("a peer that speaks only uTP is reached over uTP, and remembered for it", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const server = yield* makeUtpSocket(yield* net.udp({ host: "127.0.0.1", port: 0 }))
      const accepted = yield* Deferred.make<string>()
      const accepting = yield* Effect.forkScoped(
        Effect.scoped(Effect.flatMap(server.listener.accept, (c) => Deferred.succeed(accepted, c.transport ?? "tcp")))
      )
      const utp = yield* makeUtpSocket(yield* net.udp({ host: "127.0.0.1", port: 0 }), { listen: false })
      const memory = makeTransportMemory()
      const dial = transportDialer({
        dialers: { utp: utpDialer(utp, "20 seconds"), tcp: yield* tcpDialer("20 seconds") },
        order: ["tcp", "utp"],
        memory,
        // TCP is refused at once (nothing listens on that TCP port), so uTP starts then
        fallbackAfter: "30 seconds"
      })
      const transport = yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* dial(server.address, infoHash)
        // an accepted uTP connection is handed over with its first data
        yield* conn.write(new Uint8Array([19]))
        return conn.transport ?? "tcp"
      }))
      assert.strictEqual(transport, "utp")
      assert.strictEqual(yield* Deferred.await(accepted), "utp")
      yield* Fiber.join(accepting)
      assert.strictEqual(memory.worked(server.address), "utp")
      assert.isTrue(memory.speaksUtp(server.address))
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)), 60_000)
})
