/**
 * `download` and `seed` as a user runs them: real processes, a real tracker
 * (bittorrent-tracker) on 127.0.0.1, real files. Covers JSON output, exit codes,
 * Ctrl-C (SIGINT) shutdown with a `stopped` announce, and resuming after Ctrl-C.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Deferred, Effect } from "effect"
import { existsSync } from "node:fs"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet, parseMetainfo } from "../src/metainfo/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"
import { startCli, waitForJsonLine } from "./support/cli-process.ts"


const start = startCli
const waitForLine = waitForJsonLine

const FILES = { "pay/a.bin": 3_000_000, "pay/b.bin": 1_234_567 }

const makeFixture = Effect.gen(function*() {
  const dir = yield* tempDir()
  const tracker = yield* bittorrentTracker
  yield* writePayload(join(dir, "src"), FILES)
  const created = yield* createTorrent(join(dir, "src", "pay"), { trackers: [[tracker.http]], pieceLength: 65536 }).pipe(
    Effect.provide(NodeFileSystem.layer)
  )
  const torrentPath = join(dir, "pay.torrent")
  yield* Effect.promise(() => writeFile(torrentPath, created.torrent))
  return { dir, tracker, torrentPath }
})

describe("cli: download and seed", () => {
  it.live("a CLI seeder and a CLI leecher find each other through a tracker; Ctrl-C sends stopped and exits 130", () =>
    Effect.gen(function*() {
      const { dir, tracker, torrentPath } = yield* makeFixture
      const stops: Array<string> = []
      tracker.server.on("stop", (addr) => stops.push(addr))
      // the seeder takes only encrypted peers: the leecher's default (prefer) must meet it
      const seeder = yield* start(["seed", torrentPath, "--data", join(dir, "src"), "--port", "0", "--json", "--encryption", "require"])
      yield* waitForLine(seeder, (j) => j.type === "complete", "the seeder's check")

      const leecher = yield* start(["download", torrentPath, "--out", join(dir, "out"), "--port", "0", "--json"])
      assert.strictEqual(yield* Deferred.await(leecher.exited).pipe(Effect.timeout("60 seconds")), 0, leecher.stderr.join(""))
      const json = leecher.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.isTrue(json.some((j) => j.type === "progress"))
      assert.deepInclude(json.at(-1), { type: "complete", name: "pay", bytes: 4_234_567 })
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "src", path), join(dir, "out", path)), path)

      const stopsBefore = stops.length
      seeder.child.kill("SIGINT")
      assert.strictEqual(yield* Deferred.await(seeder.exited).pipe(Effect.timeout("10 seconds")), 130, seeder.stderr.join(""))
      assert.isAbove(stops.length, stopsBefore, "the seeder announced stopped on its way out")
      assert.isTrue(existsSync(join(dir, "src", ".effect-torrent")), "resume data was saved")
    }))

  it.live("Ctrl-C in the middle of a download, then the same command again, resumes and completes", () =>
    Effect.gen(function*() {
      const { dir, torrentPath } = yield* makeFixture
      // slow enough (about 16 s for the whole) that Ctrl-C lands mid-download even on a loaded machine
      const seeder = yield* start(["seed", torrentPath, "--data", join(dir, "src"), "--port", "0", "--json", "--upload-limit", "256K"])
      yield* waitForLine(seeder, (j) => j.type === "complete", "the seeder's check")
      const args = ["download", torrentPath, "--out", join(dir, "out"), "--port", "0", "--json"]
      const first = yield* start(args)
      yield* waitForLine(first, (j) => j.type === "progress" && typeof j.verifiedBytes === "number" && j.verifiedBytes > 0, "some progress")
      first.child.kill("SIGINT")
      assert.strictEqual(yield* Deferred.await(first.exited).pipe(Effect.timeout("10 seconds")), 130, first.stderr.join(""))

      const second = yield* start(args)
      const opening = yield* waitForLine(second, (j) => j.type === "progress", "the first progress line")
      assert.isAbove(Number(opening.verifiedBytes), 0, "the rerun starts from the verified data")
      assert.strictEqual(yield* Deferred.await(second.exited).pipe(Effect.timeout("60 seconds")), 0, second.stderr.join(""))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "src", path), join(dir, "out", path)), path)
    }))

  it.live("download <magnet> fetches the metadata from the x.pe peer, shows it, and completes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "src"), FILES)
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(dir, "src", "pay"))
      const meta = yield* parseMetainfo(torrentFile)
      const magnet = formatMagnet({
        infoHash: meta.infoHash,
        infoHashV2: null,
        name: "pay",
        trackers: [],
        webSeeds: [],
        peers: [{ host: "127.0.0.1", port: wt.port }],
        selectOnly: null
      })
      const leecher = yield* start(["download", magnet, "--out", join(dir, "out"), "--port", "0", "--json"])
      assert.strictEqual(yield* Deferred.await(leecher.exited).pipe(Effect.timeout("60 seconds")), 0, leecher.stderr.join(""))
      const json = leecher.lines.map((l) => JSON.parse(l) as Record<string, unknown>)
      assert.isTrue(json.some((j) => j.type === "metadata" && typeof j.peers === "number"), "metadata progress is shown")
      assert.deepInclude(json.at(-1), { type: "complete", name: "pay", bytes: 4_234_567 })
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "src", path), join(dir, "out", path)), path)
    }))
})
