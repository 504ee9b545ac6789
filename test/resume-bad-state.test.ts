/**
 * Bad state on disk (issue 19): a resume record that is truncated, garbage, or JSON of the
 * wrong shape is detected; the CLI says so in one line naming the file and that it
 * re-checks, re-checks the files instead of trusting the record, and ends with the right
 * result. The data is complete and no peer is given, so only a re-check can finish the
 * download: a client that trusted nothing and checked nothing would wait for peers forever.
 */
import { describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "vitest"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")
const NO_NETWORK = ["--no-dht", "--no-lsd"]

/** Runs the CLI; a run that has not ended after `limitMs` is killed (by its PID) and reported as such. */
const run = (args: ReadonlyArray<string>, limitMs = 60_000) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const guard = setTimeout(() => {
      stderr += `\n(killed: still running after ${limitMs} ms)`
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, limitMs)
    child.on("exit", (code) => {
      clearTimeout(guard)
      resolve({ code: code ?? -1, stderr })
    })
  })

/** The lines a user reads: progress redraws (\r) split off, blank lines dropped. */
const linesOf = (stderr: string) => stderr.split(/[\r\n]+/).filter((l) => l.trim() !== "")

describe("a bad resume record", () => {
  it("truncated, garbage or the wrong shape: one line says so, the files are re-checked, the result is right", async () => {
    const dir = mkdtempSync(join(tmpdir(), "et-resume-"))
    try {
      const out = join(dir, "out")
      mkdirSync(out)
      const payload = randomBytes(300_000)
      writeFileSync(join(out, "data.bin"), payload)
      assert.strictEqual((await run(["create", join(out, "data.bin"), "-o", join(dir, "data.torrent")])).code, 0)
      const download = ["download", join(dir, "data.torrent"), "--out", out, "--port", "0", ...NO_NETWORK]
      // A first run checks the files, completes at once and leaves a good record behind
      const first = await run(download)
      assert.strictEqual(first.code, 0, first.stderr)
      const records = readdirSync(join(out, ".effect-torrent")).filter((f) => f.endsWith(".resume"))
      assert.strictEqual(records.length, 1, records.join())
      const record = join(out, ".effect-torrent", records[0] ?? "")
      const good = readFileSync(record)
      const bad: Record<string, Uint8Array> = {
        truncated: good.subarray(0, Math.floor(good.length / 2)),
        garbage: randomBytes(500),
        "wrong shape": Buffer.from(JSON.stringify({ format: "effect-torrent-resume", version: 1, have: "ff" }))
      }
      for (const [kind, bytes] of Object.entries(bad)) {
        writeFileSync(record, bytes)
        const r = await run(download)
        const lines = linesOf(r.stderr)
        const said = lines.filter((l) => l.includes(".resume"))
        assert.strictEqual(said.length, 1, `${kind}: one line about the record:\n${r.stderr}`)
        assert.match(said[0] ?? "", /^warning: ignoring unreadable resume data \S+\.resume \(.+\): re-checking the files$/, kind)
        assert.notMatch(r.stderr, /^\s+at /m, `${kind}: no stack trace`)
        assert.strictEqual(r.code, 0, `${kind}: ${r.stderr}`)
        assert.match(lines.at(-1) ?? "", /complete, 19\/19 pieces verified/, `${kind}: ${r.stderr}`)
        assert.isTrue(Buffer.compare(readFileSync(join(out, "data.bin")), payload) === 0, `${kind}: data untouched`)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})
