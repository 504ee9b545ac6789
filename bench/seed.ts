/**
 * The seeding half of `npm run bench`: a stock libtorrent leecher downloads the payload from
 * our `seed` command (the bundled CLI, as shipped) and from the libtorrent seeder, one after
 * the other (the order alternates between runs). Each leecher runs under bench/measure.py;
 * each seeder's CPU is read from /proc before and after, so its start-up and its own hash
 * check are not counted.
 *
 * Our seeder listens on a free port with the DHT off; the torrent has no trackers, so the
 * only traffic is the loopback connection the leecher opens. It is stopped by its PID.
 *
 * `--seed-baseline DIR` adds a third seeder, "baseline": another build of our CLI
 * (DIR/effect-torrent.js, e.g. a copy of main's dist/cli), in the same rotation, for a
 * same-run before/after. `--seed-profile` runs our seeders under `node --cpu-prof` and
 * reports each one's garbage-collection share of its busy (non-idle) samples.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { readProfile, summarizeProfile } from "./profile-summary.ts"
import { median } from "./startup.ts"

export interface SeedMeasured {
  readonly seeder: "ours" | "baseline" | "libtorrent"
  readonly transferSeconds: number
  readonly seederCpuSeconds: number
  readonly leecherCpuSeconds: number
  /** 1-minute load average when the run started. */
  readonly loadAverage: number
}

export interface SeedBenchInput {
  readonly benchDir: string
  readonly python: string
  readonly torrent: string
  readonly dataDir: string
  readonly digest: string
  readonly payloadName: string
  readonly size: number
  readonly runs: number
  readonly transport: string
  readonly libtorrentSeeder: { readonly pid: number; readonly port: number }
  readonly nodeFlags: ReadonlyArray<string>
  readonly cpuSeconds: (pid: number) => number
  readonly sha256: (path: string) => Promise<string>
  /** A directory holding another build of our CLI (effect-torrent.js), run as "baseline". */
  readonly baselineCli?: string | undefined
  /** Run our seeders under --cpu-prof, profiles in this directory. */
  readonly profileDir?: string | undefined
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** Starts `effect-torrent seed` (`bin`) and resolves once its check is done and it seeds. */
const startOurSeeder = async (input: SeedBenchInput, bin: string, profile: string | undefined) => {
  const port = await freePort()
  const profiling = profile === undefined || input.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", input.profileDir, "--cpu-prof-name", profile]
  const child = spawn(process.execPath, [
    ...input.nodeFlags, ...profiling, bin, "seed", input.torrent, "--data", input.dataDir, "--port", String(port),
    "--no-dht", "--json", "--transports", input.transport
  ], { stdio: ["ignore", "pipe", "inherit"] })
  const exited = new Promise<void>((done) => child.once("exit", () => done()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM")
    await exited
  }
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`our seeder exited early (${code})`)))
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.includes("\"type\":\"complete\"")) resolve()
    })
  })
  if (child.pid === undefined) throw new Error("our seeder has no pid")
  return { pid: child.pid, port, stop }
}

const leechFrom = async (
  input: SeedBenchInput,
  seeder: SeedMeasured["seeder"],
  target: { readonly pid: number; readonly port: number }
): Promise<SeedMeasured> => {
  const dir = mkdtempSync(join(tmpdir(), `et-bench-seed-${seeder}-`))
  const out = join(dir, "out")
  mkdirSync(out)
  const report = join(dir, "measure.json")
  try {
    const loadAverage = loadavg()[0] ?? 0
    const before = input.cpuSeconds(target.pid)
    const child = spawnSync(input.python, [
      join(input.benchDir, "measure.py"), report,
      input.python, join(input.benchDir, "ltbench.py"), "leech", input.torrent, out, String(target.port), input.transport
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    const seederCpuSeconds = input.cpuSeconds(target.pid) - before
    if (child.status !== 0) throw new Error(`libtorrent leecher (from ${seeder}) exited with ${child.status}:\n${child.stdout}`)
    const outcome = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "") as { seconds: number; bytes: number; pieces: number; pieceCount: number }
    if (outcome.bytes !== input.size || outcome.pieces !== outcome.pieceCount) {
      throw new Error(`from ${seeder}: incomplete, ${outcome.pieces}/${outcome.pieceCount} pieces`)
    }
    const digest = await input.sha256(join(out, input.payloadName))
    if (digest !== input.digest) throw new Error(`from ${seeder}: output SHA-256 ${digest} != payload ${input.digest}`)
    const m = JSON.parse(readFileSync(report, "utf8")) as { userSeconds: number; systemSeconds: number }
    return {
      seeder,
      transferSeconds: outcome.seconds,
      seederCpuSeconds,
      leecherCpuSeconds: m.userSeconds + m.systemSeconds,
      loadAverage
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    spawnSync("sync", [])
  }
}

const seedRow = (size: number, m: SeedMeasured): string =>
  `| ${m.seeder} | ${(size / m.transferSeconds / 1e6).toFixed(1)} | ${m.transferSeconds.toFixed(2)} | ${m.seederCpuSeconds.toFixed(2)} | ${m.leecherCpuSeconds.toFixed(2)} | ${m.loadAverage.toFixed(1)} |`

/** Garbage collection's share of a profile's busy (non-idle) samples. */
const gcShare = (path: string): number => {
  const groups = summarizeProfile(readProfile(path)).groups
  const of = (label: string) => groups.find((g) => g.label === label)?.micros ?? 0
  const total = groups.reduce((sum, g) => sum + g.micros, 0)
  return of("(garbage collector)") / Math.max(1, total - of("(idle)"))
}

/** Runs the seeding comparison and returns its Markdown section (table and ratios). */
export const benchSeed = async (input: SeedBenchInput): Promise<string> => {
  const stamp = new Date().toISOString().replaceAll(":", "")
  const profileOf = (who: string) => input.profileDir === undefined ? undefined : `seed-${who}-${stamp}.cpuprofile`
  const ours = await startOurSeeder(input, join(input.benchDir, "..", "dist", "cli", "effect-torrent.js"), profileOf("ours"))
  const baseline = input.baselineCli === undefined
    ? undefined
    : await startOurSeeder(input, join(input.baselineCli, "effect-torrent.js"), profileOf("baseline"))
  const results: Array<SeedMeasured> = []
  try {
    const seeders: ReadonlyArray<SeedMeasured["seeder"]> = baseline === undefined ? ["ours", "libtorrent"] : ["ours", "baseline", "libtorrent"]
    for (let i = 0; i < input.runs; i++) {
      const order = i % 2 === 0 ? seeders : [...seeders].reverse()
      for (const who of order) {
        console.log(`seed run ${i + 1}/${input.runs}: a libtorrent leecher from ${who}...`)
        const m = await leechFrom(input, who, who === "ours" ? ours : who === "baseline" && baseline !== undefined ? baseline : input.libtorrentSeeder)
        console.log(seedRow(input.size, m))
        results.push(m)
      }
    }
  } finally {
    await ours.stop()
    await baseline?.stop()
  }
  const of = (who: SeedMeasured["seeder"]) => results.filter((r) => r.seeder === who)
  const ratioOf = (a: SeedMeasured["seeder"], b: SeedMeasured["seeder"], f: (m: SeedMeasured) => number) =>
    median(of(a).map(f)) / median(of(b).map(f))
  const ratio = (f: (m: SeedMeasured) => number) => ratioOf("ours", "libtorrent", f)
  const profiles = (["ours", "baseline"] as const).flatMap((who) => {
    const name = profileOf(who)
    if (name === undefined || input.profileDir === undefined || (who === "baseline" && baseline === undefined)) return []
    return [`${who}: GC ${(gcShare(join(input.profileDir, name)) * 100).toFixed(1)} % of busy samples (\`${name}\`)`]
  })
  return [
    "Seeding: a stock libtorrent leecher downloads from our `seed` (dist/cli) and from the libtorrent seeder:",
    "",
    "| seeder | MB/s (leecher's transfer) | transfer s | seeder CPU s | leecher CPU s | load avg |",
    "|---|---:|---:|---:|---:|---:|",
    ...results.map((m) => seedRow(input.size, m)),
    "",
    `ours / libtorrent as seeder (medians): rate **${ratio((m) => 1 / m.transferSeconds).toFixed(2)}x**, ` +
    `seeder CPU **${ratio((m) => m.seederCpuSeconds).toFixed(2)}x**, the leecher's CPU ${ratio((m) => m.leecherCpuSeconds).toFixed(2)}x`,
    ...(baseline === undefined ? [] : [
      "",
      `ours / baseline (${input.baselineCli ?? ""}; medians, same run): rate **${ratioOf("ours", "baseline", (m) => 1 / m.transferSeconds).toFixed(2)}x**, ` +
      `seeder CPU **${ratioOf("ours", "baseline", (m) => m.seederCpuSeconds).toFixed(2)}x**`
    ]),
    ...(profiles.length === 0 ? [] : ["", `Our seeders under \`--cpu-prof\` (the whole run, all transfers): ${profiles.join("; ")}.`])
  ].join("\n")
}
