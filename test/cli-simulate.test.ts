/**
 * `effect-torrent simulate` as a user runs it: the real executable (which runs the
 * simulation in a child process with larger semi-spaces), its summary, its trace file, its
 * errors, and Ctrl-C.
 */
import { decodeLines } from "./support/trace.ts"
import type { TraceLine, TraceSummary } from "../src/trace/index.ts"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { eventually } from "./support/waiting.ts"

const BIN = path.join(import.meta.dirname, "..", "src", "cli", "bin.ts")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (args: ReadonlyArray<string>): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : child.exitCode, stdout, stderr }))
    })
  })

/** CPU seconds (user + system) used so far by the children of `parent`, from /proc (Linux). */
const cpuSecondsOfChildren = (parent: number): number => {
  const ticks = 100 // USER_HZ, the unit of /proc/<pid>/stat times on Linux
  let total = 0
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
    } catch {
      continue
    }
    // pid (comm) state ppid ...: split after the command name, which may hold spaces
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (Number(fields[1]) !== parent) continue
    total += (Number(fields[11]) + Number(fields[12])) / ticks
  }
  return total
}

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "et-sim-cli-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

interface Summary {
  readonly leechers: number
  readonly completed: number
  readonly completionMs: { readonly p50: number | null; readonly max: number | null }
  readonly bytesFromSeeds: number
  readonly bytesFromPeers: number
  readonly bans: number
  readonly virtualMs: number
  readonly realMs: number
  readonly allComplete: boolean
}

/** Blocks that arrived without a request of ours outstanding for them (none are expected; counted to say so). */
const unanswered = (lines: ReadonlyArray<TraceLine>): number => {
  const asked = new Set<string>()
  let n = 0
  for (const l of lines) {
    if (l.peer === undefined) continue
    const key = (i: number, b: number) => `${l.host}|${l.peer?.addr}|${i}:${b}`
    if (l.ev.type === "Request" && l.dir === "out") asked.add(key(l.ev.index, l.ev.begin))
    if (l.ev.type === "Piece" && l.dir === "in" && !asked.delete(key(l.ev.index, l.ev.begin))) n++
  }
  return n
}

const SMALL = ["simulate", "--peers", "6", "--size", "2MiB", "--piece-length", "64KiB"]

describe("effect-torrent simulate", () => {
  it.effect("--json summary; the same --random-seed (or its alias --seed) writes a byte-identical trace, another seed another", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const trace = (name: string) => path.join(dir, name)
      const a = yield* cli([...SMALL, "--random-seed", "7", "--trace", trace("a.jsonl"), "--trace-messages", "--json"])
      const b = yield* cli([...SMALL, "--seed", "7", "--trace", trace("b.jsonl"), "--trace-messages", "--json"])
      const c = yield* cli([...SMALL, "--random-seed", "8", "--trace", trace("c.jsonl"), "--trace-messages", "--json"])
      for (const run of [a, b, c]) assert.strictEqual(run.code, 0, run.stderr)

      const summary = JSON.parse(a.stdout) as Summary
      assert.strictEqual(summary.leechers, 6)
      assert.strictEqual(summary.completed, 6)
      assert.isTrue(summary.allComplete)
      // every leecher received at least the whole torrent, from the seed or from each other
      assert.isAtLeast(summary.bytesFromSeeds + summary.bytesFromPeers, 6 * 2 * 1024 * 1024)
      assert.isAbove(summary.virtualMs, 0)
      assert.isAtLeast(summary.realMs, 0)
      assert.isTrue(summary.completionMs.p50 !== null && summary.completionMs.max !== null && summary.completionMs.p50 <= summary.completionMs.max)

      const traceA = fs.readFileSync(trace("a.jsonl"))
      assert.isAbove(traceA.length, 0)
      assert.isTrue(traceA.equals(fs.readFileSync(trace("b.jsonl"))), "same seed, same trace")
      assert.isFalse(traceA.equals(fs.readFileSync(trace("c.jsonl"))), "another seed, another trace")
      // the format of a real run's trace: every line decodes with the one schema
      const lines = decodeLines(traceA.toString("utf8").trim().split("\n"))
      assert.isTrue(lines.some((l) => l.ev.type === "Piece" && l.dir === "in" && l.host?.startsWith("leecher-") === true))

      // and `trace` reads it: the blocks the leechers received are the bytes they were sent
      const read = yield* cli(["trace", trace("a.jsonl"), "--json"])
      assert.strictEqual(read.code, 0, read.stderr)
      const s = JSON.parse(read.stdout) as TraceSummary
      const received = s.peers.filter((p) => p.host?.startsWith("leecher-") === true).reduce((n, p) => n + p.bytesIn, 0)
      assert.isAtLeast(received, 6 * 2 * 1024 * 1024)
      assert.strictEqual(s.latency.count, lines.filter((l) => l.ev.type === "Piece" && l.dir === "in").length - unanswered(lines))
      assert.strictEqual(Object.keys(s.completed).filter((h) => h.startsWith("leecher-")).length, 6)
    }).pipe(Effect.scoped), 120_000)

  it.effect("--scenario runs a named scenario and says whether its expected outcome held (exit 1 when not); --report writes the page", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const page = path.join(dir, "run.html")
      const held = yield* cli([...SMALL, "--scenario", "corrupt-10", "--report", page, "--json"])
      assert.strictEqual(held.code, 0, held.stderr)
      const summary = JSON.parse(held.stdout) as Summary & { scenario: { name: string; failed: ReadonlyArray<string> } }
      assert.strictEqual(summary.scenario.name, "corrupt-10")
      assert.deepStrictEqual(summary.scenario.failed, [])
      assert.isAbove(summary.bans, 0)
      const html = fs.readFileSync(page, "utf8")
      assert.include(html, "corrupt-10")
      assert.strictEqual(html.match(/<svg /g)?.length, 5)
      // 64 KiB finishes within the first virtual second, before the churn even starts
      const missed = yield* cli(["simulate", "--peers", "5", "--size", "64KiB", "--piece-length", "16KiB", "--scenario", "churn"])
      assert.strictEqual(missed.code, 1)
      assert.match(missed.stdout, /DID NOT HOLD/)
      // after the echoed parameters, the one error line
      assert.match(missed.stderr.trim().split("\n").at(-1) ?? "", /^error: --scenario churn: the expected outcome did not hold: completed before its restart/)
    }).pipe(Effect.scoped), 120_000)

  it.effect("the human summary names percentiles, sources, bans and both clocks", () =>
    Effect.gen(function*() {
      const run = yield* cli([...SMALL, "--corrupt-peers", "1"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.match(run.stdout, /^6\/6 leechers complete/m)
      assert.match(run.stdout, /completion \(virtual\): p50 [\d.]+ s, p90 [\d.]+ s, p99 [\d.]+ s, max [\d.]+ s/)
      assert.match(run.stdout, /received from seeds .+, from peers .+ \([\d.]+% from seeds\)/)
      // the corrupt seeder is caught by the hash checks and banned
      assert.match(run.stdout, /bans [1-9]\d*, hash failures [1-9]\d*/)
      assert.match(run.stdout, /virtual time [\d.]+ s, real time [\d.]+ s/)
      // the parameters come first, and more received than needed is explained
      assert.strictEqual(
        run.stderr.split("\n")[0],
        "simulating 1 seed(s) and 6 leechers (1 corrupt): 2 MiB in 64 KiB pieces, 50 ms one way, 10 MiB/s up and 20 MiB/s down per host, UDP loss 0, tcp, random seed 1"
      )
      assert.match(run.stdout, /^(payload 12 MiB in all leechers|that is .+ more than the 12 MiB the leechers needed: blocks received more than once .+)$/m)
      const help = yield* cli(["simulate", "--help"])
      for (const flag of ["--peers", "--seeds", "--size", "--piece-length", "--latency", "--bandwidth", "--loss", "--random-seed"]) {
        assert.match(help.stdout.split("\n").find((l) => l.trimStart().startsWith(flag)) ?? "", /\(default: [^)]+\)/, flag)
      }
      assert.notMatch(help.stdout, /^\s+--seed\s/m)
    }), 120_000)

  it.effect("bad flags give one line on stderr and exit code 1", () =>
    Effect.gen(function*() {
      for (const args of [["--peers", "0"], ["--loss", "1.5"], ["--size", "lots"], ["--latency", "soon"]]) {
        const run = yield* cli(["simulate", ...args])
        assert.strictEqual(run.code, 1, args.join(" "))
        assert.strictEqual(run.stdout, "")
        assert.strictEqual(run.stderr.trim().split("\n").length, 1, run.stderr)
      }
    }), 60_000)

  it.live("Ctrl-C stops a long simulation promptly: its finalizers get the virtual time they wait for", () =>
    Effect.gen(function*() {
      // A run that takes far longer than the 30 s allowed below for stopping.
      const child = spawn(process.execPath, [BIN, "simulate", "--peers", "200", "--size", "256MiB", "--json"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      // Interrupt it mid-run: once the simulator process (the executable's child) has done three
      // seconds of CPU work, well past start-up, however busy the machine is.
      const parent = child.pid ?? 0
      yield* eventually("the simulation to run for 3 s of CPU time", Effect.sync(() => cpuSecondsOfChildren(parent)), (s) => s >= 3, 60)
      child.kill("SIGINT")
      const code = yield* Effect.promise(() => exited).pipe(
        Effect.timeoutOrElse({
          duration: "30 seconds",
          orElse: () => Effect.sync(() => { child.kill("SIGKILL"); return "still running" as const })
        })
      )
      assert.strictEqual(code, 130)
    }), 60_000)
})
