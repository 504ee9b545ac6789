/**
 * No test waits a fixed time and then asserts: such a test passes when the machine is
 * merely slow, or fails when it is busy. Tests wait for a condition or an event
 * (test/support/waiting.ts), show "nothing happened" with a later positive signal, or run
 * on virtual time (TestClock, the simulator), where time moves only when every fiber waits.
 *
 * This guard scans every .ts file under test/ for timers: a new one fails it. The files
 * below may hold timers, exactly as many as listed, each for the reason given; a timer
 * added to one of them changes its count and fails the guard too, so it gets a look.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"

const TEST_DIR = import.meta.dirname
const TIMERS = /Effect\.sleep\(|Effect\.delay\(|setTimeout\(|setInterval\(|timeoutOption\(/g

const ALLOWED: Record<string, { readonly timers: number; readonly reason: string }> = {
  "limits-connections.test.ts": { timers: 1, reason: "samples the seeder's RSS from /proc for its peak (a measurement, asserted on nothing timed)" },
  "resume-bad-state.test.ts": { timers: 1, reason: "kills a CLI run still going after 60 s, so a hang fails with its output instead of a vitest timeout" },
  "support/waiting.ts": { timers: 1, reason: "the poll between two checks of a condition (real time, with a deadline)" },
  "interop/support/process.ts": { timers: 4, reason: "polls a reference client's process for its output or its exit, with a deadline" },
  "support/webtorrent.ts": { timers: 1, reason: "polls WebTorrent until its listening port is known, before any test step" },
  "sim-network.test.ts": { timers: 4, reason: "virtual time: sleeps and a timeout inside inVirtualTime" },
  "sim-virtual-time.test.ts": { timers: 7, reason: "virtual time: tests of the virtual clock itself" },
  "mse-driver.test.ts": { timers: 1, reason: "virtual time: pauses between the pieces of a fuzzed opening, inside inVirtualTime" },
  "hostile-cancel.test.ts": { timers: 1, reason: "bounds a flood write that backpressure may hold forever; no assertion depends on it" },
  "utp-sim.test.ts": { timers: 1, reason: "virtual time: samples the simulated uplink's queue every 100 ms inside inVirtualTime" },
  "sim-lsd.test.ts": { timers: 1, reason: "virtual time: another simulated host announces every 5 s inside the simulator" },
  "support/lsd-group.ts": { timers: 1, reason: "bounds the probe for loopback multicast, run once before any test; a miss skips (or fails in CI) with the reason" }
}

const walk = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (name === "node_modules" || name === "webrtc-polyfill") return []
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".ts") ? [path] : []
  })

/** Timer calls in `source`, comments left out (this file's own docs name them). */
const timers = (source: string): number => {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1")
  return code.match(TIMERS)?.length ?? 0
}

describe("no sleep-then-assert tests", () => {
  it("no timer in test/ outside the files allowed to have them", () => {
    const self = relative(TEST_DIR, import.meta.filename)
    const found: Record<string, number> = {}
    for (const path of walk(TEST_DIR)) {
      const file = relative(TEST_DIR, path)
      if (file === self) continue
      const n = timers(readFileSync(path, "utf8"))
      if (n > 0) found[file] = n
    }
    const expected = Object.fromEntries(Object.entries(ALLOWED).map(([file, a]) => [file, a.timers]))
    assert.deepStrictEqual(
      found,
      expected,
      "a timer appeared or disappeared in test/: wait for a condition or an event instead (test/support/waiting.ts), " +
        "or use virtual time; if it is truly needed, list it in ALLOWED with the reason"
    )
  })

  it("the scan sees timers, and not those in comments", () => {
    assert.strictEqual(timers(`yield* Effect.sleep("1 second")\nsetTimeout(f, 20)\nx.pipe(Effect.timeoutOption("2 seconds"))`), 3)
    assert.strictEqual(timers(`// yield* Effect.sleep("1 second")\n/* setTimeout(f) */\nconst url = "http://x"`), 0)
  })
})
