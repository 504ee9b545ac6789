/**
 * A full disk: the torrent goes into the error state with a one-line reason, every
 * piece it had verified stays intact on disk, and the CLI reports one line and exits 1.
 * Uses a 512 KiB tmpfs, which needs root: without mount rights the tests are skipped
 * locally, and fail in CI (where .ci/run runs as root).
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Fiber, Stream, SubscriptionRef } from "effect"
import { execFile, execFileSync, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Client, layerNode } from "../src/client/index.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { liveWith, requirement } from "./support/requirements.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")

const canMount = requirement(
  (() => {
    const probe = join("/tmp", `et-mount-probe-${process.pid}`)
    mkdirSync(probe, { recursive: true })
    const ok = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe]).status === 0
    if (ok) spawnSync("umount", [probe])
    rmSync(probe, { recursive: true, force: true })
    return ok
  })(),
  "mounting a tmpfs (the disk-full tests)",
  "run as root"
)

/** A 512 KiB file system, unmounted when the test ends. */
const tinyDisk = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = join("/tmp", `et-tiny-${process.pid}-${Math.floor(performance.now())}`)
    mkdirSync(dir, { recursive: true })
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir])
    return dir
  }),
  (dir) => Effect.sync(() => {
    spawnSync("umount", [dir])
    rmSync(dir, { recursive: true, force: true })
  })
)

describe("a full disk", () => {
  liveWith(canMount)("puts the torrent in the error state and keeps every verified piece intact", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      yield* writePayload(source, { "big/data.bin": 2_000_000 })
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "big"), { pieceLength: 32768 })
      const disk = yield* tinyDisk
      const failure = yield* Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(torrentFile, { peers: [{ host: "127.0.0.1", port: wt.port }] })
        // A reader of the whole file waits for pieces that never come: the error must wake it.
        const reader = yield* Effect.forkChild(Stream.runDrain(torrent.file(0).stream()))
        const error = yield* Effect.flip(torrent.whenComplete.pipe(Effect.timeout("60 seconds")))
        const state = SubscriptionRef.getUnsafe(torrent.state)
        const readError = yield* Effect.flip(Fiber.join(reader).pipe(Effect.timeout("10 seconds")))
        return { error, state, readError }
      }).pipe(Effect.provide(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory: disk }), { local: true }))
      assert.strictEqual(failure.error._tag, "TorrentError")
      assert.match(failure.error.message, /disk|space|ENOSPC/i)
      assert.strictEqual(failure.state.status, "error")
      assert.strictEqual(failure.readError._tag, "TorrentError", String(failure.readError))
      assert.strictEqual(failure.readError._tag === "TorrentError" ? failure.readError.reason : "", "Storage")
      assert.isNotNull(failure.state.error)
      // Every piece that the resume record says is verified must hash right on disk.
      const onDisk = readFileSync(join(disk, "big", "data.bin"))
      const original = readFileSync(join(source, "big", "data.bin"))
      let intact = 0
      for (let i = 0; i * 32768 < onDisk.length; i++) {
        const piece = onDisk.subarray(i * 32768, Math.min(onDisk.length, (i + 1) * 32768))
        const want = original.subarray(i * 32768, Math.min(original.length, (i + 1) * 32768))
        if (piece.length === want.length && createHash("sha1").update(piece).digest().equals(createHash("sha1").update(want).digest())) intact++
      }
      assert.isAbove(intact, 0, "the pieces written before the disk filled are intact")
      assert.isAtLeast(failure.state.piecesVerified, 1)
      assert.isAtMost(failure.state.piecesVerified, intact, "no piece is claimed verified that is not intact on disk")
    }))

  liveWith(canMount)("the CLI prints one line and exits non-zero", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      yield* writePayload(source, { "big/data.bin": 2_000_000 })
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "big"), { pieceLength: 32768 })
      const disk = yield* tinyDisk
      const torrentPath = join(source, "big.torrent")
      writeFileSync(torrentPath, torrentFile)
      // Asynchronous: the WebTorrent seeder lives in this process and must keep serving.
      const run = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            [BIN, "download", torrentPath, "--out", disk, "--port", "0", "--no-dht", "--no-lsd", "--peer", `127.0.0.1:${wt.port}`],
            { encoding: "utf8", timeout: 60_000 },
            (error, _stdout, stderr) => resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stderr })
          )
        })
      )
      assert.notStrictEqual(run.code, 0)
      const errors = run.stderr.split("\n").filter((l) => l.startsWith("error:"))
      assert.strictEqual(errors.length, 1, run.stderr)
      assert.match(errors[0] ?? "", /disk|space/i)
      assert.notInclude(run.stderr, "    at ", "no stack trace")
      // Warnings too (closing the storage on a full disk fails again): one line each, no logfmt dump
      assert.notInclude(run.stderr, "level=", run.stderr)
      for (const line of run.stderr.split(/[\r\n]+/).filter((l) => /^(warning|error)\b/.test(l))) assert.match(line, /^(warning|error): \S/, line)
    }))
})
