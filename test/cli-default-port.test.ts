/**
 * Two `seed` processes started with default settings (no --port; only --no-dht and --no-lsd,
 * so nothing leaves loopback): the first takes 6881, the second says in one line that it was
 * taken and which port it listens on instead, and both serve a `download` pointed at them.
 * 6881 may already be held on this machine (another client, another test): then the first
 * falls back too, and the second's line must name the first's port among the taken ones.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { spawnProcess } from "./interop/support/process.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")
const QUIET = ["--no-dht", "--no-lsd", "--json"]
const FALLBACK = /^port (\d+)(?:-(\d+))? is in use \(another BitTorrent client\?\); listening on port (\d+) instead$/

/** The fallback line a process printed (JSON mode: a warning on stdout), if any. */
const fallbackOf = (lines: ReadonlyArray<string>) => {
  for (const line of lines) {
    if (!line.startsWith("{")) continue
    const parsed: unknown = JSON.parse(line)
    if (typeof parsed !== "object" || parsed === null || !("type" in parsed) || parsed.type !== "warning") continue
    const message = "message" in parsed && typeof parsed.message === "string" ? parsed.message : ""
    const match = FALLBACK.exec(message)
    if (match !== null) {
      const first = Number(match[1])
      return { message, first, last: match[2] === undefined ? first : Number(match[2]), port: Number(match[3]) }
    }
  }
  return undefined
}

const seeding = (lines: ReadonlyArray<string>) => (lines.some((l) => l.includes("\"status\":\"seeding\"")) ? true : undefined)

describe("default port fallback, two real CLI processes", () => {
  it.live("the second seeder says 6881 was taken and which port it uses; both serve a download", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const src = join(dir, "src")
      yield* writePayload(join(src, "pay"), { "a.bin": 300_001, "b.bin": 20_000 })
      const torrent = join(dir, "pay.torrent")
      const create = yield* spawnProcess("effect-torrent create", process.execPath, [BIN, "create", join(src, "pay"), "--output", torrent])
      assert.strictEqual(yield* create.waitExit("60 seconds"), 0, create.output())

      const first = yield* spawnProcess("first seed", process.execPath, [BIN, "seed", torrent, "--data", src, ...QUIET])
      yield* first.waitFor("the first seeder seeding", () => seeding(first.lines()), "60 seconds")
      const firstFallback = fallbackOf(first.lines())
      // No line: it has 6881. A line: 6881 was held before the test, and it says where it went.
      const firstPort = firstFallback === undefined ? 6881 : firstFallback.port
      if (firstFallback !== undefined) assert.strictEqual(firstFallback.first, 6881, firstFallback.message)

      const second = yield* spawnProcess("second seed", process.execPath, [BIN, "seed", torrent, "--data", src, ...QUIET])
      yield* second.waitFor("the second seeder seeding", () => seeding(second.lines()), "60 seconds")
      const fallback = fallbackOf(second.lines())
      assert.isDefined(fallback, `the second seeder said nothing about the port:\n${second.output()}`)
      if (fallback === undefined) return
      assert.strictEqual(fallback.first, 6881, fallback.message)
      assert.isAtLeast(firstPort, fallback.first, fallback.message)
      assert.isAtMost(firstPort, fallback.last, fallback.message)
      assert.notStrictEqual(fallback.port, firstPort)
      assert.isAbove(fallback.port, fallback.last)
      assert.strictEqual(second.lines().filter((l) => l.includes("is in use")).length, 1, second.output())

      // Both work: a download pointed at each one alone completes with the same bytes.
      const outs = [join(dir, "from-first"), join(dir, "from-second")]
      const downloads = yield* Effect.forEach([firstPort, fallback.port], (port, i) =>
        spawnProcess(`download from port ${port}`, process.execPath, [
          BIN, "download", torrent, "--out", outs[i] ?? dir, "--peer", `127.0.0.1:${port}`, "--port", "0", ...QUIET
        ]))
      for (const download of downloads) assert.strictEqual(yield* download.waitExit("90 seconds"), 0, download.output())
      for (const out of outs) {
        for (const file of ["a.bin", "b.bin"]) assert.isTrue(yield* sameFile(join(src, "pay", file), join(out, "pay", file)), `${out}/${file}`)
      }
    }).pipe(Effect.scoped), 240_000)
})
