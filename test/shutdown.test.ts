/**
 * Clean shutdown: closing a client's layer (what Ctrl-C does in the CLI) ends every fiber
 * it started and releases every socket, server, UDP socket and file handle, while peers
 * are connected and a tracker is in use.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Exit, Metric, Scope } from "effect"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { startNodeClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { eventually } from "./support/waiting.ts"

const HANDLE_KINDS = ["TCPSocketWrap", "TCPServerWrap", "UDPWrap", "FileHandle", "Timeout"]

const handles = (): Record<string, number> => {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return Object.fromEntries(HANDLE_KINDS.map((k) => [k, counts[k] ?? 0]))
}

/**
 * `handles()` from a check phase of the event loop. Node counts a timer as active until its
 * callback returns, so a count taken inside one (a fiber resumed by the poll's own sleep can
 * run there) includes that very timer: seen as a "leaked" Timeout on a loaded machine.
 */
const settledHandles = Effect.promise(() => new Promise<Record<string, number>>((resolve) => setImmediate(() => resolve(handles()))))

describe("shutdown", () => {
  it.live("no fiber, socket, server or file handle outlives the client", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      // The tracker (bittorrent-tracker's own timers included) is not the client's: it gets its
      // own scope, closed before the last count.
      const trackerScope = yield* Scope.make()
      const tracker = yield* bittorrentTracker.pipe(Scope.provide(trackerScope))
      yield* writePayload(join(dir, "seed"), { "data/a.bin": 2_000_000, "data/b.bin": 100_000 })
      const { torrent } = yield* createTorrent(join(dir, "seed", "data"), { trackers: [[tracker.udp]], pieceLength: 32768 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      // Count live fibers through Effect's fiber-runtime hook: started minus ended.
      let live = 0
      const fibers: Metric.FiberRuntimeMetricsService = {
        recordFiberStart: () => {
          live++
        },
        recordFiberEnd: () => {
          live--
        }
      }
      const before = handles()
      let during: Record<string, number> = {}
      let liveDuring = 0
      yield* Effect.scoped(Effect.gen(function*() {
        const seeder = yield* startNodeClient(join(dir, "seed"))
        const seeding = yield* seeder.add(torrent)
        yield* seeding.whenComplete
        const leecher = yield* startNodeClient(join(dir, "leech"))
        const leeching = yield* leecher.add(torrent, { peers: [{ host: "127.0.0.1", port: seeder.port ?? 0 }] })
        yield* leeching.whenComplete.pipe(Effect.timeout("60 seconds"))
        assert.isAbove((yield* leeching.peers).length + (yield* seeding.peers).length, 0, "peers are connected at shutdown")
        during = handles()
        liveDuring = live
      })).pipe(Effect.provideService(Metric.FiberRuntimeMetrics, fibers))
      assert.isAbove(liveDuring, 5, "the clients were running fibers")
      assert.isAbove(during.TCPServerWrap ?? 0, before.TCPServerWrap ?? 0, "the clients were listening")
      assert.strictEqual(live, 0, "every fiber the clients started has ended")
      yield* Scope.close(trackerScope, Exit.void)
      // Node closes handles asynchronously: wait for them to go (a leaked one never does).
      const after = yield* eventually(
        `every handle to close (before: ${JSON.stringify(before)}, during: ${JSON.stringify(during)})`,
        settledHandles,
        (now) => HANDLE_KINDS.every((kind) => (now[kind] ?? 0) <= (before[kind] ?? 0))
      )
      for (const kind of HANDLE_KINDS) {
        assert.isAtMost(after[kind] ?? 0, before[kind] ?? 0, `no ${kind} is left behind: ${JSON.stringify({ before, during, after })}`)
      }
    }))
})
