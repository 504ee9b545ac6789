/**
 * The measured process of `node bench/scale.ts`: one client, seeding the torrents it is given,
 * measuring itself when told to. Runs under `node --expose-gc`.
 *
 *   node --expose-gc bench/scale-subject.ts DATA_DIR TORRENT...
 *
 * Protocol (one JSON line each way):
 * - stdout `{"ready":port}` once the client listens, before any torrent is added;
 * - stdin `add N` adds the next N torrents and waits until each seeds, then prints a sample;
 * - stdin `sample` prints a sample: memory after two full GCs, the CPU the process spent since
 *   the last sample, then (0.5 s later) the CPU over a 3 s idle window (what the timers and fibers cost while
 *   nothing happens), and the connected peer count over all torrents;
 * - stdin `snapshot FILE` writes a heap snapshot, then prints a sample;
 * - stdin `heapprof start`, `heapprof stop FILE`: a sampling heap profile of what the span
 *   allocated and kept, then a sample;
 * - stdin `quit` exits.
 * Connections are capped far above what the bench opens, so the caps are not what is measured.
 */
import { Effect, SubscriptionRef } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { createInterface } from "node:readline"
import { writeHeapSnapshot } from "node:v8"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Client, layerNode } from "../src/client/index.ts"
import type { Torrent } from "../src/torrent/index.ts"

const [dataDir, ...torrentPaths] = process.argv.slice(2)
const gc = (globalThis as { gc?: () => void }).gc
if (dataDir === undefined || gc === undefined) {
  console.error("usage: node --expose-gc bench/scale-subject.ts DATA_DIR TORRENT...")
  process.exit(2)
}

const IDLE_WINDOW_MS = 3000
const GC_SETTLE_MS = 500

const program = Effect.gen(function*() {
  const client = yield* Client
  const torrents: Array<Torrent> = []
  const inspector = new Session()
  let cpuMark = process.cpuUsage()
  const sample = Effect.gen(function*() {
    const spent = process.cpuUsage(cpuMark)
    gc()
    gc()
    const m = process.memoryUsage()
    // The idle window starts once the GC threads have finished what the forced GCs gave them.
    yield* Effect.sleep(GC_SETTLE_MS)
    const idleStart = process.cpuUsage()
    yield* Effect.sleep(IDLE_WINDOW_MS)
    const idle = process.cpuUsage(idleStart)
    let peers = 0
    for (const t of torrents) peers += (yield* SubscriptionRef.get(t.state)).peers
    cpuMark = process.cpuUsage()
    return {
      torrents: torrents.length,
      peers,
      rss: m.rss,
      heapUsed: m.heapUsed,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      cpuMs: (spent.user + spent.system) / 1000,
      idleCpuMsPerS: (idle.user + idle.system) / IDLE_WINDOW_MS
    }
  })
  console.log(JSON.stringify({ ready: client.port }))
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
  for (;;) {
    const next = yield* Effect.promise(() => lines.next())
    const line: string | undefined = next.done === true ? undefined : next.value
    if (line === undefined || line === "quit") return
    // `snapshot FILE`: a V8 heap snapshot (after a full GC) for finding what a peer or torrent holds
    const snapshot = /^snapshot (.+)$/.exec(line)
    if (snapshot?.[1] !== undefined) {
      gc()
      writeHeapSnapshot(snapshot[1])
    }
    // `heapprof start` / `heapprof stop FILE`: V8's sampling heap profiler over a span, so the
    // profile holds what was allocated in it and is still alive at its end (e.g. the peers')
    if (line === "heapprof start") {
      inspector.connect()
      yield* Effect.promise(() => inspector.post("HeapProfiler.startSampling", { samplingInterval: 1024 }))
    }
    const heapprof = /^heapprof stop (.+)$/.exec(line)
    if (heapprof?.[1] !== undefined) {
      gc()
      const file = heapprof[1]
      // inside a function that returns: a profile held by this generator's registers would be
      // in the heap snapshot that follows (about 1 KiB a peer of call frames and URLs)
      yield* Effect.promise(async () => {
        const { profile } = await inspector.post("HeapProfiler.stopSampling")
        writeFileSync(file, JSON.stringify(profile))
      })
    }
    const add = /^add (\d+)$/.exec(line)
    if (add !== null) {
      const count = Number(add[1])
      for (let i = 0; i < count; i++) {
        const path = torrentPaths[torrents.length]
        if (path === undefined) break
        const torrent = yield* client.add(new Uint8Array(readFileSync(path)), { directory: dataDir })
        // wait until the existing data is checked and found complete
        yield* torrent.whenComplete
        torrents.push(torrent)
      }
    }
    console.log(JSON.stringify(yield* sample))
  }
}).pipe(
  Effect.provide(layerNode({
    host: "127.0.0.1",
    port: 0,
    downloadDirectory: dataDir,
    transports: ["tcp"],
    trackers: false,
    webSeeds: false,
    maxPeers: 10_000,
    maxPeersPerTorrent: 10_000
  })),
  Effect.scoped,
  Effect.provide(NodeFileSystem.layer)
)

Effect.runPromise(program).then(
  () => process.exit(0),
  (error: unknown) => {
    console.error("scale-subject failed:", error)
    process.exit(1)
  }
)
