/**
 * SimNetwork on its own: TCP semantics (refused, ordered delivery, FIN, crash resets),
 * link queueing (rates emerge from shared uplinks), UDP conditions, partitions, and the
 * driver moving virtual time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { Network } from "../src/net/index.ts"
import { advanceUntil, inVirtualTime, makeWorld, SimNetwork } from "../src/sim/index.ts"

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

const readAll = (read: Effect.Effect<Uint8Array, unknown>) =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    while (true) {
      const r = yield* Effect.result(read)
      if (r._tag === "Failure") return { chunks, error: r.failure }
      chunks.push(r.success)
    }
  })

const total = (chunks: ReadonlyArray<Uint8Array>) => chunks.reduce((n, c) => n + c.length, 0)

describe("SimNetwork", () => {
  it.effect("refuses connections nobody listens for, after one round trip", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 20 })
      const a = SimNetwork.networkOf(world, "10.0.0.1")
      SimNetwork.networkOf(world, "10.0.0.2")
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.flip(a.connect({ host: "10.0.0.2", port: 80 }))))
      yield* advanceUntil({ done: () => fiber.pollUnsafe() !== undefined, deadlineMs: 10_000, stepMs: 1 })
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "ConnectRefused")
      assert.strictEqual(yield* Clock.currentTimeMillis, 40)
      // an unknown host never answers: the connect timeout fires
      const silent = yield* Effect.forkChild(Effect.scoped(Effect.flip(a.connect({ host: "10.9.9.9", port: 80 }, { timeout: "3 seconds" }))))
      yield* advanceUntil({ done: () => silent.pollUnsafe() !== undefined, deadlineMs: 10_000 })
      assert.strictEqual((yield* Fiber.join(silent))._tag, "ConnectTimeout")
    }), { seed: 1 }))

  it.effect("delivers writes in order, then EOF after close", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 10, uploadBps: 1_000_000, downloadBps: 1_000_000 })
      const server = SimNetwork.networkOf(world, "10.0.0.1")
      const client = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* server.listen({ host: "0.0.0.0", port: 6881 })
      const received = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        assert.strictEqual(conn.remote.host, "10.0.0.2")
        return yield* readAll(conn.read)
      })))
      const sender = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* client.connect({ host: "10.0.0.1", port: 6881 })
        for (let i = 0; i < 50; i++) yield* conn.writeV([bytes(100, i), bytes(900, i)])
        yield* conn.close
        return yield* Effect.flip(conn.write(bytes(1, 0)))
      })))
      yield* advanceUntil({ done: () => received.pollUnsafe() !== undefined, deadlineMs: 60_000, stepMs: 10 })
      const { chunks, error } = yield* Fiber.join(received)
      assert.strictEqual(total(chunks), 50_000)
      // one writeV arrives as one segment, in write order
      assert.deepStrictEqual(chunks.map((c) => [c.length, c[0], c[999]]), Array.from({ length: 50 }, (_, i) => [1000, i, i]))
      assert.strictEqual((error as { _tag: string })._tag, "ConnectionClosed")
      assert.strictEqual((yield* Fiber.join(sender))._tag, "ConnectionClosed")
      // 50 kB over a 1 MB/s link: about 50 ms of transfer plus latency, not instantaneous
      assert.isAtLeast(yield* Clock.currentTimeMillis, 60)
    }), { seed: 1 }))

  it.effect("five connections share a 10 MB/s uplink at about 2 MB/s each", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 5, uploadBps: 100_000_000, downloadBps: 100_000_000 })
      const source = SimNetwork.networkOf(world, "10.0.0.1", { uploadBps: 10_000_000 })
      const counts: Array<number> = []
      for (let i = 0; i < 5; i++) {
        const sink = SimNetwork.networkOf(world, `10.0.1.${i + 1}`)
        const listener = yield* sink.listen({ host: "0.0.0.0", port: 7000 })
        counts.push(0)
        yield* Effect.forkScoped(Effect.gen(function*() {
          const conn = yield* listener.accept
          while (true) counts[i] = (counts[i] ?? 0) + (yield* conn.read).length
        }).pipe(Effect.ignore))
        yield* Effect.forkScoped(Effect.gen(function*() {
          const conn = yield* source.connect({ host: `10.0.1.${i + 1}`, port: 7000 })
          while (true) yield* conn.write(bytes(16_384, i))
        }).pipe(Effect.ignore))
      }
      yield* advanceUntil({ done: () => false, deadlineMs: 10_000 })
      const sum = counts.reduce((a, b) => a + b, 0)
      // 10 s at 10 MB/s, minus the first round trip
      assert.isAbove(sum, 99_000_000)
      assert.isAtMost(sum, 100_000_000)
      for (const c of counts) assert.approximately(c / 10, 2_000_000, 100_000, `per-connection rate ${c / 10}`)
    }), { seed: 1 }))

  it.effect("each connection has its own send buffer: offer fills it, drained waits for its bytes to leave", () =>
    inVirtualTime(Effect.gen(function*() {
      // 1 MB/s up: 64 KiB of send buffer is 65.5 ms of uplink
      const world = yield* makeWorld({ latencyMs: 5, uploadBps: 1_000_000, downloadBps: 100_000_000 })
      const source = SimNetwork.networkOf(world, "10.0.0.1")
      const sink = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* sink.listen({ host: "0.0.0.0", port: 7000 })
      const first = yield* Effect.forkChild(Effect.scoped(source.connect({ host: "10.0.0.2", port: 7000 }).pipe(
        Effect.flatMap((a) => Effect.map(source.connect({ host: "10.0.0.2", port: 7000 }), (b) => [a, b] as const)),
        Effect.flatMap(([a, b]) =>
          Effect.gen(function*() {
            const block = bytes(16_384, 1)
            // four blocks fill one connection's 64 KiB; the fifth is taken but says "wait"
            for (let i = 0; i < 4; i++) assert.isTrue(a.offer([block]), `block ${i}`)
            assert.isFalse(a.offer([block]))
            // the other connection's buffer is its own: it still has room
            assert.isTrue(b.offer([block]))
            const t0 = yield* Clock.currentTimeMillis
            yield* a.drained
            // room again once a's first block has left: 16 384 bytes at 1 MB/s
            const waited = (yield* Clock.currentTimeMillis) - t0
            assert.approximately(waited, 16.4, 1)
            // exactly full now: one more block is taken and fills it again
            assert.isFalse(a.offer([block]))
            yield* a.close
            assert.isFalse(a.offer([block]), "a closed connection takes nothing")
            return (yield* Effect.flip(a.drained))._tag
          })
        )
      )))
      yield* Effect.forkScoped(Effect.forever(Effect.scoped(Effect.flatMap(listener.accept, (c) => Effect.forever(c.read)))).pipe(Effect.ignore))
      yield* advanceUntil({ done: () => first.pollUnsafe() !== undefined, deadlineMs: 10_000, stepMs: 1 })
      assert.strictEqual(yield* Fiber.join(first), "ConnectionClosed")
    }), { seed: 1 }))

  it.effect("readable delivers segments in order outside any fiber, stops and resumes, then reports FIN and RST", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 10, uploadBps: 1_000_000, downloadBps: 1_000_000 })
      const server = SimNetwork.networkOf(world, "10.0.0.1")
      const client = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* server.listen({ host: "0.0.0.0", port: 6881 })
      const got: Array<number> = []
      const ends: Array<string> = []
      const accepted = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        const consumer = (chunk: Uint8Array): boolean => {
          got.push(chunk[0] ?? -1)
          // stop after the 10th write; re-armed below once more have arrived
          return got.length !== 10
        }
        conn.readable(consumer, (e) => void ends.push(e._tag))
        yield* Effect.sleep("200 millis")
        assert.strictEqual(got.length, 10, "nothing is delivered while stopped")
        conn.readable(consumer, (e) => void ends.push(e._tag))
        yield* Effect.sleep("1 second")
      })))
      yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* client.connect({ host: "10.0.0.1", port: 6881 })
        for (let i = 0; i < 30; i++) yield* conn.write(bytes(1000, i))
        yield* conn.close
      })))
      yield* advanceUntil({ done: () => accepted.pollUnsafe() !== undefined, deadlineMs: 10_000, stepMs: 10 })
      assert.deepStrictEqual(got, Array.from({ length: 30 }, (_, i) => i))
      assert.deepStrictEqual(ends, ["ConnectionClosed"])
      // a crash: the other end hears the RST through onEnd
      const reset: Array<string> = []
      const crashed = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        conn.readable(() => true, (e) => void reset.push(e._tag))
        yield* Effect.sleep("1 second")
      })))
      yield* Effect.forkChild(Effect.scoped(Effect.andThen(client.connect({ host: "10.0.0.1", port: 6881 }), Effect.never)))
      yield* advanceUntil({ done: () => false, deadlineMs: 100, stepMs: 10 })
      world.crash("10.0.0.2")
      yield* advanceUntil({ done: () => crashed.pollUnsafe() !== undefined, deadlineMs: 10_000, stepMs: 10 })
      assert.deepStrictEqual(reset, ["ConnectionReset"])
    }), { seed: 1 }))

  it.effect("a crash resets the host's connections and its peers see an RST", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 10 })
      const a = SimNetwork.networkOf(world, "10.0.0.1")
      const b = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* b.listen({ host: "10.0.0.2", port: 1 })
      const accepted = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        return yield* Effect.flip(conn.read)
      })))
      const dialer = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        const conn = yield* a.connect({ host: "10.0.0.2", port: 1 })
        return yield* Effect.flip(conn.read)
      })))
      yield* advanceUntil({ done: () => false, deadlineMs: 100 })
      world.crash("10.0.0.2")
      yield* advanceUntil({ done: () => dialer.pollUnsafe() !== undefined && accepted.pollUnsafe() !== undefined, deadlineMs: 1000, stepMs: 1 })
      assert.strictEqual((yield* Fiber.join(dialer))._tag, "ConnectionReset")
      assert.strictEqual((yield* Fiber.join(accepted))._tag, "ConnectionReset")
      assert.strictEqual(yield* Clock.currentTimeMillis, 110)
      // its listener is gone: new connections are refused
      const again = yield* Effect.forkChild(Effect.scoped(Effect.flip(a.connect({ host: "10.0.0.2", port: 1 }))))
      yield* advanceUntil({ done: () => again.pollUnsafe() !== undefined, deadlineMs: 2000 })
      assert.strictEqual((yield* Fiber.join(again))._tag, "ConnectRefused")
      assert.isTrue(world.traceLines().some((l) => l.includes(`"kind":"crash"`)))
    }), { seed: 1 }))

  it.effect("a partition holds TCP data until it heals; UDP across it is lost", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 10 })
      const a = SimNetwork.networkOf(world, "10.0.0.1")
      const b = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* b.listen({ host: "0.0.0.0", port: 1 })
      const got: Array<number> = []
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        while (true) {
          const chunk = yield* conn.read
          got.push(chunk[0] ?? -1)
        }
      }).pipe(Effect.ignore))
      const conn = yield* a.connect({ host: "10.0.0.2", port: 1 }).pipe(Effect.forkScoped)
      yield* advanceUntil({ done: () => false, deadlineMs: 50 })
      const c = yield* Fiber.join(conn)
      world.partition(["10.0.0.2"])
      yield* c.write(bytes(10, 1))
      yield* c.write(bytes(10, 2))
      const ua = yield* a.udp({ host: "0.0.0.0", port: 0 })
      const ub = yield* b.udp({ host: "0.0.0.0", port: 9 })
      yield* ua.send(bytes(4, 7), ub.address)
      yield* advanceUntil({ done: () => false, deadlineMs: 5_000 })
      assert.deepStrictEqual(got, [])
      world.heal()
      yield* advanceUntil({ done: () => got.length === 2, deadlineMs: 6_000, stepMs: 1 })
      assert.deepStrictEqual(got, [1, 2])
      const udpReceived = yield* ub.receive.pipe(Effect.timeoutOption("1 second"), Effect.forkChild)
      yield* advanceUntil({ done: () => udpReceived.pollUnsafe() !== undefined, deadlineMs: 8_000 })
      assert.strictEqual((yield* Fiber.join(udpReceived))._tag, "None")
    }), { seed: 1 }))

  it.effect("UDP loss and duplication follow the seed", () => {
    const run = (seed: string) =>
      inVirtualTime(Effect.gen(function*() {
        const world = yield* makeWorld({ seed, latencyMs: 10, udp: { loss: 0.3, duplicate: 0.2, reorderMs: 30 } })
        const a = SimNetwork.networkOf(world, "10.0.0.1")
        const b = SimNetwork.networkOf(world, "::1")
        const ua = yield* a.udp({ host: "0.0.0.0", port: 0 })
        const ub = yield* b.udp({ host: "::", port: 9 })
        const got: Array<number> = []
        yield* Effect.forkScoped(Effect.forever(Effect.map(ub.receive, (d) => got.push(d.payload[0] ?? -1))))
        for (let i = 0; i < 200; i++) yield* ua.send(Uint8Array.of(i), { host: "::1", port: 9 })
        yield* advanceUntil({ done: () => false, deadlineMs: 1000 })
        return got
      }), { seed: 1 })
    return Effect.gen(function*() {
      const first = yield* run("x")
      const again = yield* run("x")
      const other = yield* run("y")
      assert.deepStrictEqual(first, again)
      assert.notDeepEqual(first, other)
      const distinct = new Set(first).size
      assert.isAbove(distinct, 110)
      assert.isBelow(distinct, 170)
      assert.isAbove(first.length, distinct, "some datagrams arrived twice")
      assert.notDeepEqual(first, [...first].sort((x, y) => x - y), "some were reordered")
    })
  })

  it.effect("the Network layer binds one host's view", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld()
      const network = yield* Network.pipe(Effect.provide(SimNetwork.host(world, "10.0.0.5")))
      const listener = yield* network.listen({ host: "0.0.0.0", port: 0 })
      assert.strictEqual(listener.address.host, "10.0.0.5")
      const error = yield* Effect.flip(network.listen({ host: "10.0.0.5", port: listener.address.port }))
      assert.strictEqual(error._tag, "AddressInUse")
      const wrong = yield* Effect.flip(network.listen({ host: "127.0.0.1", port: 1 }))
      assert.strictEqual(wrong._tag, "NetIoError")
    }), { seed: 1 }))
})
