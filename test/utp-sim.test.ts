/**
 * uTP connections on the simulated network: byte-identical transfers both ways under
 * loss, reordering, duplication and long latency, reproducible from the seed.
 */
import { decodeLines, eventsOf, simEventsOf } from "./support/trace.ts"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { createHash } from "node:crypto"
import type { Connection } from "../src/net/index.ts"
import { advanceUntil, inVirtualTime, makeWorld, runScenario, SimNetwork, type WorldOptions } from "../src/sim/index.ts"
import { makeUtpSocket } from "../src/utp/index.ts"

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

const sha = (chunks: ReadonlyArray<Uint8Array>) => {
  const h = createHash("sha256")
  for (const c of chunks) h.update(c)
  return h.digest("hex")
}

/** Writes `data` in pieces of 16 KiB + 13 bytes (like piece messages). */
const sendAll = (conn: Connection, data: Uint8Array) =>
  Effect.gen(function*() {
    for (let at = 0; at < data.length; at += 16397) yield* conn.write(data.subarray(at, Math.min(data.length, at + 16397)))
  })

/** Reads `size` bytes, then (with `untilEnd`) on to the end of the stream. */
const readAll = (conn: Connection, size: number, untilEnd: boolean) =>
  Effect.gen(function*() {
    const chunks: Array<Uint8Array> = []
    let bytes = 0
    while (bytes < size || untilEnd) {
      const r = yield* Effect.result(conn.read)
      if (r._tag === "Failure") return { chunks, bytes, end: r.failure._tag }
      chunks.push(r.success)
      bytes += r.success.length
    }
    return { chunks, bytes, end: "none" }
  })

interface Outcome {
  readonly toServer: string
  readonly toClient: string
  readonly endAtServer: string
  readonly endAtClient: string
  readonly ms: number
  readonly trace: number
}

const exchange = (world: WorldOptions, size: number) =>
  inVirtualTime(Effect.gen(function*() {
    const w = yield* makeWorld(world)
    const a = SimNetwork.networkOf(w, "10.0.0.1")
    const b = SimNetwork.networkOf(w, "10.0.0.2")
    const server = yield* makeUtpSocket(yield* a.udp({ host: "10.0.0.1", port: 6881 }))
    const client = yield* makeUtpSocket(yield* b.udp({ host: "10.0.0.2", port: 6881 }))
    const up = payload(size, 1)
    const down = payload(size, 2)
    const serverSide = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
      const conn = yield* server.listener.accept
      // the client closes once it has everything: its FIN ends our stream
      const [got] = yield* Effect.all([readAll(conn, size, true), sendAll(conn, down)], { concurrency: 2 })
      yield* conn.close
      return got
    })))
    const clientSide = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
      const conn = yield* client.connect({ host: "10.0.0.1", port: 6881 })
      const [got] = yield* Effect.all([readAll(conn, size, false), sendAll(conn, up)], { concurrency: 2 })
      yield* conn.close
      return got
    })))
    const ms = yield* advanceUntil({
      done: () => serverSide.pollUnsafe() !== undefined && clientSide.pollUnsafe() !== undefined,
      deadlineMs: 600_000
    })
    const atServer = yield* Fiber.join(serverSide)
    const atClient = yield* Fiber.join(clientSide)
    assert.strictEqual(atServer.bytes, size)
    assert.strictEqual(atClient.bytes, size)
    return {
      toServer: sha(atServer.chunks),
      toClient: sha(atClient.chunks),
      endAtServer: atServer.end,
      endAtClient: atClient.end,
      ms,
      trace: w.traceLines().length
    } satisfies Outcome
  }), { seed: 7 })

describe("uTP on the simulated network", () => {
  it.effect("moves 1 MiB each way over a clean link and ends with FIN", () =>
    Effect.gen(function*() {
      const size = 1 << 20
      const out = yield* exchange({ latencyMs: 20, uploadBps: 5_000_000, downloadBps: 5_000_000 }, size)
      assert.strictEqual(out.toServer, sha([payload(size, 1)]))
      assert.strictEqual(out.toClient, sha([payload(size, 2)]))
      assert.strictEqual(out.endAtServer, "ConnectionClosed")
      assert.strictEqual(out.endAtClient, "none")
    }))

  const hostile: ReadonlyArray<readonly [string, WorldOptions]> = [
    ["1% loss, 100 ms", { latencyMs: 100, udp: { loss: 0.01 } }],
    ["5% loss, reordering, duplication, 250 ms", { latencyMs: 250, udp: { loss: 0.05, duplicate: 0.05, reorderMs: 40 } }],
    ["10% loss, reordering, duplication, 500 ms", { latencyMs: 500, udp: { loss: 0.1, duplicate: 0.02, reorderMs: 100 } }]
  ]
  for (const [name, conditions] of hostile) {
    it.effect(`byte-identical and reproducible under ${name}`, () =>
      Effect.gen(function*() {
        const size = 256 * 1024
        const options = { ...conditions, uploadBps: 2_000_000, downloadBps: 2_000_000, seed: name }
        const first = yield* exchange(options, size)
        assert.strictEqual(first.toServer, sha([payload(size, 1)]))
        assert.strictEqual(first.toClient, sha([payload(size, 2)]))
        assert.strictEqual(first.endAtServer, "ConnectionClosed")
        const second = yield* exchange(options, size)
        assert.deepStrictEqual(second, first)
        console.log(name, first.ms, first.trace)
      }))
  }

  it.effect("a swarm over uTP only (1% loss, reordering): everyone completes with the exact content, reproducibly", () =>
    Effect.gen(function*() {
      const run = runScenario({
        seed: 14,
        torrent: { size: 2 * 1024 * 1024, pieceLength: 64 * 1024 },
        seeds: 1,
        leechers: 4,
        network: { latencyMs: 40, udp: { loss: 0.01, reorderMs: 10 } },
        client: { transports: ["utp"] },
        storage: "memory",
        verifyData: true,
        tracePieces: false
      })
      const report = yield* run
      assert.isTrue(report.allComplete)
      assert.strictEqual(report.dataVerified, true)
      // no simulated TCP connection was ever made: it all went over uTP
      assert.strictEqual(simEventsOf(report.trace, "connect").length, 0)
      // and every client says so on its connections
      const accepted = eventsOf(report.trace, "accept")
      assert.isAbove(accepted.length, 0)
      assert.isTrue(decodeLines(report.trace).every((l) => l.peer?.transport === undefined || l.peer.transport === "utp"))
      const again = yield* run
      assert.deepStrictEqual(again.trace, report.trace)
    }), 120_000)
})

describe("LEDBAT on a shared bottleneck (simulated)", () => {
  it.effect("uTP fills an idle 1 MB/s uplink at about 100 ms of queueing, and yields to TCP cross-traffic", () =>
    inVirtualTime(Effect.gen(function*() {
      // TCP keeps its 256 KiB send buffer queued on the uplink: ~260 ms of queue on its own
      const w = yield* makeWorld({ latencyMs: 20, uploadBps: 100_000_000, downloadBps: 100_000_000, sendBufferBytes: 256 * 1024 })
      const sender = SimNetwork.networkOf(w, "10.0.0.1", { uploadBps: 1_000_000 })
      const receiver = SimNetwork.networkOf(w, "10.0.0.2")
      const uplink = w.host("10.0.0.1")
      if (uplink === undefined) return assert.fail("no sender host")
      const server = yield* makeUtpSocket(yield* receiver.udp({ host: "10.0.0.2", port: 6881 }))
      const client = yield* makeUtpSocket(yield* sender.udp({ host: "10.0.0.1", port: 6881 }))
      const block = new Uint8Array(16 * 1024)
      // bytes received per transport, in 1-second bins of virtual time
      const bins = { utp: new Map<number, number>(), tcp: new Map<number, number>() }
      const count = (kind: "utp" | "tcp") => (chunk: Uint8Array) => {
        const bin = Math.floor(w.events.now() / 1000)
        bins[kind].set(bin, (bins[kind].get(bin) ?? 0) + chunk.length)
        return true
      }
      const between = (kind: "utp" | "tcp", from: number, to: number) => {
        let n = 0
        for (let s = from; s < to; s++) n += bins[kind].get(s) ?? 0
        return n / (to - from)
      }
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* server.listener.accept
        conn.readable(count("utp"), () => {})
        yield* Effect.never
      }))
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* client.connect({ host: "10.0.0.2", port: 6881 })
        yield* Effect.forever(conn.write(block))
      }))
      // queueing delay on the uplink, sampled every 100 ms
      const queue: Array<readonly [number, number]> = []
      yield* Effect.forkScoped(Effect.forever(Effect.sleep("100 millis").pipe(Effect.andThen(Effect.sync(() => {
        queue.push([w.events.now(), Math.max(0, uplink.upFree - w.events.now())])
      })))))
      yield* advanceUntil({ done: () => false, deadlineMs: 30_000 })
      const alone = between("utp", 10, 30)
      const queued = queue.filter(([t]) => t >= 10_000).map(([, q]) => q).sort((a, b) => a - b)
      const medianQueue = queued[Math.floor(queued.length / 2)] ?? 0

      // TCP cross-traffic on the same uplink
      const listener = yield* receiver.listen({ host: "10.0.0.2", port: 7000 })
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        conn.readable(count("tcp"), () => {})
        yield* Effect.never
      }))
      yield* Effect.forkScoped(Effect.gen(function*() {
        const conn = yield* sender.connect({ host: "10.0.0.2", port: 7000 })
        yield* Effect.forever(conn.write(block))
      }))
      yield* advanceUntil({ done: () => false, deadlineMs: 60_000 })
      const utpWithTcp = between("utp", 40, 60)
      const tcpWithUtp = between("tcp", 40, 60)

      // alone, uTP uses most of the link, with the queue near the 100 ms target
      assert.isAbove(alone, 0.85 * 1_000_000, `uTP alone: ${alone} B/s`)
      assert.isAbove(medianQueue, 60, `median queueing delay ${medianQueue} ms`)
      assert.isBelow(medianQueue, 140, `median queueing delay ${medianQueue} ms`)
      // beside TCP it backs off to a trickle and TCP gets the link
      assert.isBelow(utpWithTcp, 0.1 * tcpWithUtp, `uTP ${utpWithTcp} B/s beside TCP ${tcpWithUtp} B/s`)
      assert.isAbove(tcpWithUtp, 0.85 * 1_000_000, `TCP beside uTP: ${tcpWithUtp} B/s`)
    }), { seed: 3 }), 120_000)
})
