/**
 * `npm run bench:sim`: how the real time of a simulation grows with peers × size.
 *
 *   node bench/simulation.ts [--grid 50x4MiB,50x64MiB,...] [--no-record]
 *
 * Each point runs `effect-torrent simulate --peers N --size S --random-seed 1 --json` (the CLI as
 * shipped: dist/cli/effect-torrent.js, built first, which runs simulations with 128 MB semi-spaces) in its own
 * process, measured by bench/measure.py (wait4 rusage: CPU of all threads, peak RSS). The
 * simulated world is the CLI's default: 1 seed, 256 KiB pieces, 50 ms one-way latency,
 * 10 MiB/s up and 20 MiB/s down per host, the simulation's UDP tracker. A point fails the
 * bench unless every leecher completed.
 *
 * The default grid ends with the goals of issue 18, 1 000 × 64 MiB and 10 000 × 16 MiB, which
 * take minutes each; `--grid` picks points. Besides times and RSS, each row has what the CLI's
 * `cost` reports: the payload mode (bytes or shared, see `simulate --payload`), events
 * per real second (engine wake-ups, timers and network deliveries), the share of real time
 * in GC (V8's gc entries) and the JS heap per session at the peak (an upper bound).
 *
 * Prints a table and appends a dated section to bench/RESULTS.md.
 */
import { spawnSync } from "node:child_process"
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { parseSize, sizeLabel } from "./args.ts"

const benchDir = new URL(".", import.meta.url).pathname
const bin = join(benchDir, "..", "dist", "cli", "effect-torrent.js")
const measure = join(benchDir, "measure.py")

const DEFAULT_GRID = "10x16MiB,50x4MiB,50x16MiB,50x64MiB,100x16MiB,200x4MiB,500x1MiB,1000x1MiB,1000x4MiB,1000x64MiB,10000x16MiB"

interface Point {
  readonly peers: number
  readonly size: number
}

interface Summary {
  readonly leechers: number
  readonly completed: number
  readonly virtualMs: number
  readonly realMs: number
  readonly seedShare: number
  readonly allComplete: boolean
  readonly cost: {
    readonly payload: string
    readonly eventsPerSecond: number
    readonly gcShare: number
    readonly heapPerSession: number
    readonly peakSessions: number
  }
}

interface Measured {
  readonly wallSeconds: number
  readonly userSeconds: number
  readonly systemSeconds: number
  readonly maxRssKiB: number
}

const parseGrid = (text: string): ReadonlyArray<Point> =>
  text.split(",").map((item) => {
    const [peers, size] = item.split("x")
    const n = Number(peers)
    if (!Number.isInteger(n) || n < 1 || size === undefined) throw new Error(`bad grid point "${item}" (e.g. 50x64MiB)`)
    return { peers: n, size: parseSize(size) }
  })

const runPoint = (point: Point, dir: string): { readonly summary: Summary; readonly measured: Measured } => {
  const report = join(dir, "measure.json")
  const args = ["simulate", "--peers", String(point.peers), "--size", sizeLabel(point.size), "--random-seed", "1", "--json"]
  const child = spawnSync("/usr/bin/python3", [measure, report, process.execPath, bin, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1 << 20
  })
  if (child.status !== 0) throw new Error(`simulate ${args.join(" ")} exited with ${child.status}`)
  const summary = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "{}") as Summary
  if (!summary.allComplete) throw new Error(`simulate ${args.join(" ")}: ${summary.completed}/${summary.leechers} completed`)
  return { summary, measured: JSON.parse(readFileSync(report, "utf8")) as Measured }
}

const main = () => {
  const built = spawnSync(process.execPath, [join(benchDir, "..", "scripts", "build.ts")], { stdio: "inherit" })
  if (built.status !== 0) throw new Error(`npm run build exited with ${built.status}`)
  let grid = DEFAULT_GRID
  let record = true
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--grid") grid = argv[++i] ?? grid
    else if (argv[i] === "--no-record") record = false
    else throw new Error(`unknown option ${argv[i]}\nusage: node bench/simulation.ts [--grid 50x4MiB,50x64MiB] [--no-record]`)
  }
  const rows: Array<string> = []
  const dir = mkdtempSync(join(tmpdir(), "et-simbench-"))
  try {
    for (const point of parseGrid(grid)) {
      const load = loadavg()[0] ?? 0
      const { summary, measured } = runPoint(point, dir)
      const payloadMB = (point.peers * point.size) / 1e6
      const real = summary.realMs / 1000
      const row = [
        String(point.peers),
        sizeLabel(point.size),
        `${(summary.virtualMs / 1000).toFixed(1)} s`,
        `${real.toFixed(1)} s`,
        `${measured.wallSeconds.toFixed(1)} s`,
        `${(measured.userSeconds + measured.systemSeconds).toFixed(1)} s`,
        `${(payloadMB / real).toFixed(0)}`,
        `${((summary.realMs * 1000) / (point.peers * (point.size / 16384))).toFixed(0)}`,
        `${(summary.seedShare * 100).toFixed(1)} %`,
        `${Math.round(measured.maxRssKiB / 1024)}`,
        summary.cost.payload,
        `${Math.round(summary.cost.eventsPerSecond / 1000)}k`,
        `${(summary.cost.gcShare * 100).toFixed(1)} %`,
        `${summary.cost.peakSessions}`,
        `${(summary.cost.heapPerSession / 1024).toFixed(0)}`,
        load.toFixed(1)
      ]
      rows.push(`| ${row.join(" | ")} |`)
      console.log(rows.at(-1))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const header = [
    "| leechers | size | virtual time | real time | process wall | CPU | payload MB per real s | real µs per block received | share from the seed | peak RSS MiB | payload | events per real s | GC share | sessions at peak | heap KiB per session (at most) | load |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  ]
  const section = [
    `## Simulation scaling ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}). \`npm run bench:sim\` (bench/simulation.ts):`,
    "`effect-torrent simulate --peers N --size S --random-seed 1 --json`, CLI defaults (1 seed, 256 KiB pieces,",
    "50 ms latency, 10 MiB/s up / 20 MiB/s down per host). Real time = the simulation itself (from the",
    "JSON); process wall and CPU include start-up and making the torrent. A block is 16 KiB.",
    "",
    ...header,
    ...rows,
    ""
  ].join("\n")
  console.log(`\n${section}`)
  if (record) {
    appendFileSync(join(benchDir, "RESULTS.md"), `\n${section}`)
    console.log("appended to bench/RESULTS.md")
  }
}

main()
