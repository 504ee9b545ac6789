/**
 * The seeding half of `npm run bench`: a stock libtorrent leecher downloads the payload from
 * our `seed` command (the bundled CLI, as shipped) and from the libtorrent seeder, one after
 * the other (the order alternates between runs). Each leecher runs under bench/measure.py;
 * each seeder's CPU is read from /proc before and after, so its start-up and its own hash
 * check are not counted.
 *
 * Our seeder listens on a free port with the DHT off; the torrent has no trackers, so the
 * only traffic is the loopback connection the leecher opens. It is stopped by its PID.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { median } from "./startup.ts"

export interface SeedMeasured {
  readonly seeder: "ours" | "libtorrent"
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

/** Starts `effect-torrent seed` (dist/cli) and resolves once its check is done and it seeds. */
const startOurSeeder = async (input: SeedBenchInput) => {
  const port = await freePort()
  const bin = join(input.benchDir, "..", "dist", "cli", "effect-torrent.js")
  const child = spawn(process.execPath, [
    ...input.nodeFlags, bin, "seed", input.torrent, "--data", input.dataDir, "--port", String(port),
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

/** Runs the seeding comparison and returns its Markdown section (table and ratios). */
export const benchSeed = async (input: SeedBenchInput): Promise<string> => {
  const ours = await startOurSeeder(input)
  const results: Array<SeedMeasured> = []
  try {
    for (let i = 0; i < input.runs; i++) {
      const order: ReadonlyArray<SeedMeasured["seeder"]> = i % 2 === 0 ? ["ours", "libtorrent"] : ["libtorrent", "ours"]
      for (const who of order) {
        console.log(`seed run ${i + 1}/${input.runs}: a libtorrent leecher from ${who}...`)
        const m = await leechFrom(input, who, who === "ours" ? ours : input.libtorrentSeeder)
        console.log(seedRow(input.size, m))
        results.push(m)
      }
    }
  } finally {
    await ours.stop()
  }
  const of = (who: SeedMeasured["seeder"]) => results.filter((r) => r.seeder === who)
  const ratio = (f: (m: SeedMeasured) => number) => median(of("ours").map(f)) / median(of("libtorrent").map(f))
  return [
    "Seeding: a stock libtorrent leecher downloads from our `seed` (dist/cli) and from the libtorrent seeder:",
    "",
    "| seeder | MB/s (leecher's transfer) | transfer s | seeder CPU s | leecher CPU s | load avg |",
    "|---|---:|---:|---:|---:|---:|",
    ...results.map((m) => seedRow(input.size, m)),
    "",
    `ours / libtorrent as seeder (medians): rate **${ratio((m) => 1 / m.transferSeconds).toFixed(2)}x**, ` +
    `seeder CPU **${ratio((m) => m.seederCpuSeconds).toFixed(2)}x**, the leecher's CPU ${ratio((m) => m.leecherCpuSeconds).toFixed(2)}x`
  ].join("\n")
}
