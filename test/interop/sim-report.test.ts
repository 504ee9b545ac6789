/**
 * `effect-torrent simulate --report run.html` in a real browser (Debian's Chromium through
 * playwright-core): the page renders every plot, with data in it, without a console error,
 * and asks the network for nothing (it is one self-contained file).
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import { renderReport } from "./support/chromium.ts"

const BIN = path.join(import.meta.dirname, "..", "..", "src", "cli", "bin.ts")

describe("interop: the simulation report in headless Chromium", () => {
  liveWith(installed.chromium)("every plot renders, with data, no console errors and no request leaving the file", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "et-sim-report-"))),
        (d) => Effect.sync(() => fs.rmSync(d, { recursive: true, force: true }))
      )
      const report = path.join(dir, "run.html")
      const args = ["simulate", "--peers", "12", "--size", "2MiB", "--piece-length", "64KiB", "--corrupt-peers", "1", "--random-seed", "3", "--report", report]
      const run = yield* Effect.callback<{ code: number | null; stderr: string }>((resume) => {
        const child = execFile(process.execPath, [BIN, ...args], { encoding: "utf8" }, (error, _stdout, stderr) =>
          resume(Effect.succeed({ code: error === null ? 0 : child.exitCode, stderr })))
      })
      assert.strictEqual(run.code, 0, run.stderr)

      const { charts, problems, requests } = yield* renderReport(report)
      assert.deepStrictEqual(problems, [])
      assert.deepStrictEqual(requests, [])
      for (const c of charts) {
        assert.isAbove(c.width, 100, `${c.id} has a size`)
        assert.isAbove(c.height, 100, `${c.id} has a size`)
        assert.isAbove(c.drawn, 0, `${c.id} plots data`)
      }
      assert.isAbove(charts.find((c) => c.id === "incidents")?.marks ?? 0, 0, "the corrupt peer's bans are on the timeline")
    }).pipe(Effect.scoped), 180_000)
})
