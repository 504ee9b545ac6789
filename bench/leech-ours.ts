/**
 * Our side of `npm run bench`: one process, one download, one JSON line.
 *
 *   node bench/leech-ours.ts TORRENT OUT_DIR SEED_PORT [tcp|utp]
 *
 * The client runs with its default configuration (only the listen address changed to
 * loopback, and the transport, when given, set to the one the seeder and the libtorrent
 * leecher speak) and dials the seeder directly. Timing runs from just before `add` to
 * `whenComplete`, the same span the libtorrent leecher measures. The process exits
 * once the client's layer has closed (files flushed), so the caller can hash the output.
 */
import { Clock, Effect, Schedule, SubscriptionRef } from "effect"
import { readFileSync } from "node:fs"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Client, layerNode } from "../src/client/index.ts"
import { openTraceFile } from "../src/trace/writer.ts"

const [torrentPath, outDir, seedPort, transport] = process.argv.slice(2)
if (torrentPath === undefined || outDir === undefined || seedPort === undefined) {
  console.error("usage: node bench/leech-ours.ts TORRENT OUT_DIR SEED_PORT")
  process.exit(2)
}

// The client as shipped (real sockets, files, trackers); the torrent has no trackers.
const clientLayer = layerNode({
  host: "127.0.0.1",
  port: 0,
  downloadDirectory: outDir,
  ...(transport === "tcp" || transport === "utp" ? { transports: [transport] } : {})
})

/**
 * Peaks of `process.memoryUsage()`, sampled every 100 ms: they split the RSS the parent
 * measures into the JS heap and ArrayBuffers (block, piece and socket buffers live there).
 */
const peaks = { rss: 0, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0 }
const sampleMemory = Effect.sync(() => {
  const m = process.memoryUsage()
  peaks.rss = Math.max(peaks.rss, m.rss)
  peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed)
  peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal)
  peaks.external = Math.max(peaks.external, m.external)
  peaks.arrayBuffers = Math.max(peaks.arrayBuffers, m.arrayBuffers)
})
const mib = (bytes: number) => Math.round(bytes / 2 ** 20)

/**
 * CPU seconds (user + system) of the main thread alone, from /proc (Linux; 0 elsewhere): the
 * JavaScript side of the transfer, without the file writes and hashing of other threads,
 * whose kernel copy cost swings by seconds per GiB from one run to the next on this machine.
 */
const mainThreadCpuSeconds = (): number => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // USER_HZ, 100 on Linux
  } catch {
    return 0
  }
}

const program = Effect.gen(function*() {
  const client = yield* Client
  // The client is built, nothing is downloaded yet: what the runtime and the modules cost.
  const rssBeforeAddMiB = mib(process.memoryUsage().rss)
  yield* Effect.forkChild(Effect.repeat(sampleMemory, Schedule.spaced("100 millis")))
  const bytes = new Uint8Array(readFileSync(torrentPath))
  const start = yield* Clock.currentTimeNanos
  // CPU over the transfer alone (all threads), so CPU per GiB leaves process start-up out.
  const cpuBefore = process.cpuUsage()
  const mainBefore = mainThreadCpuSeconds()
  // BENCH_TRACE=FILE: the traced row (docs/TRACE.md), every wire message written to FILE.
  const tracePath = process.env.BENCH_TRACE
  const trace = tracePath === undefined || tracePath === "" ? {} : { trace: { sink: yield* openTraceFile(tracePath) } }
  const torrent = yield* client.add(bytes, { peers: [{ host: "127.0.0.1", port: Number(seedPort) }], ...trace })
  yield* torrent.whenComplete.pipe(Effect.timeout("1 hour"))
  const end = yield* Clock.currentTimeNanos
  const cpu = process.cpuUsage(cpuBefore)
  const mainCpuSeconds = mainThreadCpuSeconds() - mainBefore
  yield* sampleMemory
  return { torrent, seconds: Number(end - start) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, mainCpuSeconds, rssBeforeAddMiB }
}).pipe(
  Effect.provide(clientLayer),
  Effect.scoped,
  Effect.provide(NodeFileSystem.layer),
  // The state is republished when the torrent closes with the layer, so this one is final.
  Effect.flatMap(({ cpuSeconds, mainCpuSeconds, rssBeforeAddMiB, seconds, torrent }) =>
    Effect.map(SubscriptionRef.get(torrent.state), (state) => ({
      seconds,
      cpuSeconds,
      mainCpuSeconds,
      bytes: state.wantedBytes,
      pieces: state.piecesVerified,
      pieceCount: state.pieceCount,
      status: state.status,
      memoryMiB: {
        rssBeforeAdd: rssBeforeAddMiB,
        peakRss: mib(peaks.rss),
        peakHeapUsed: mib(peaks.heapUsed),
        peakHeapTotal: mib(peaks.heapTotal),
        peakExternal: mib(peaks.external),
        peakArrayBuffers: mib(peaks.arrayBuffers)
      }
    }))
  )
)

Effect.runPromise(program).then(
  (result) => {
    console.log(JSON.stringify(result))
    process.exit(0)
  },
  (error: unknown) => {
    console.error("leech-ours failed:", error)
    process.exit(1)
  }
)
