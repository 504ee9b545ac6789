/**
 * `download --trace` killed with SIGKILL mid-transfer (no finalizer runs): the file is still
 * valid JSON lines up to its last complete line, and `effect-torrent trace` reads it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Deferred, Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { readTrace } from "../src/trace/index.ts"
import { startCli, waitForJsonLine } from "./support/cli-process.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { waitUntil } from "./support/waiting.ts"

describe("cli: a killed run's trace", () => {
  it.live("SIGKILL mid-download leaves whole lines up to the last one; trace FILE summarises it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const tracker = yield* bittorrentTracker
      yield* writePayload(join(dir, "src"), { "pay/a.bin": 6_000_000 })
      const created = yield* createTorrent(join(dir, "src", "pay"), { trackers: [[tracker.http]], pieceLength: 65536 }).pipe(Effect.provide(NodeFileSystem.layer))
      const torrentPath = join(dir, "pay.torrent")
      yield* Effect.promise(() => writeFile(torrentPath, created.torrent))
      // a slow seeder, so the download is still running when it is killed
      const seeder = yield* startCli(["seed", torrentPath, "--data", join(dir, "src"), "--port", "0", "--json", "--upload-limit", "512K"])
      yield* waitForJsonLine(seeder, (j) => j.type === "complete", "the seeder's check")
      const tracePath = join(dir, "run.jsonl")
      const leecher = yield* startCli(["download", torrentPath, "--out", join(dir, "out"), "--port", "0", "--json", "--trace", tracePath])
      // lines reach the file at least once a second: wait for blocks to be in it
      yield* waitUntil("Piece lines in the trace", () => existsSync(tracePath) && readFileSync(tracePath, "utf8").includes(`"type":"Piece"`), 30)
      assert.isNull(leecher.child.exitCode, "still downloading when killed")
      leecher.child.kill("SIGKILL")
      yield* Deferred.await(leecher.exited)

      const text = readFileSync(tracePath, "utf8")
      const trace = readTrace(text)
      assert.deepStrictEqual(trace.bad, [], "every complete line decodes")
      assert.strictEqual(trace.lines[0]?.ev.type, "start")
      assert.isTrue(trace.lines.some((l) => l.ev.type === "Piece" && l.dir === "in"))
      assert.notInclude(trace.lines.map((l) => l.ev.type), "complete", "killed before the end")

      const summary = yield* startCli(["trace", tracePath, "--json"])
      assert.strictEqual(yield* Deferred.await(summary.exited).pipe(Effect.timeout("30 seconds")), 0, summary.stderr.join(""))
      const parsed = JSON.parse(summary.lines.join("\n")) as { peers: ReadonlyArray<{ addr: string }> }
      const sender = trace.lines.find((l) => l.ev.type === "Piece")?.peer?.addr
      assert.include(parsed.peers.map((p) => p.addr), sender)
    }))
})
