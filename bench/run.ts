/**
 * `npm run bench`: our download speed against python3-libtorrent's, same seeder, same run.
 *
 *   node bench/run.ts [--size 1GiB] [--runs 1] [--transport tcp|utp] [--seeders plain|rc4|both]
 *                     [--profile] [--trace] [--skip leech,seed,startup] [--no-record]
 *   node bench/run.ts --scale [--runs 3]   (only bench/scale.ts: idle peers, 100 torrents; ≥ 2 runs)
 *   node bench/run.ts --growth [--growth-sizes 1GiB,16GiB] [--runs 1]
 *                                          (only bench/growth.ts: peak anon, sparse 1 GiB vs 16 GiB)
 *
 * 1. Makes (once, then reuses) a deterministic pseudo-random payload and a v1 torrent with
 *    1 MiB pieces in bench/data/ (git-ignored).
 * 2. Starts python3-libtorrent seeders on 127.0.0.1 (high_performance_seed) speaking
 *    `--transport` only (tcp: uTP off, the default; utp: TCP off both ways): one at its
 *    default encryption settings ("plain": it takes MSE but selects plaintext, so the payload
 *    travels in the clear) and one that forces RC4 ("rc4": in/out pe_forced, RC4 only,
 *    prefer_rc4). `--seeders plain|rc4|both` (default both). The libtorrent leecher speaks
 *    the same transport, and so does ours (otherwise at its defaults).
 * 3. Per run and seeder, our leecher (bench/leech-ours.ts, compiled to JavaScript first as a
 *    package would ship it; default config, so encryption "prefer") and a stock libtorrent
 *    leecher each download into a fresh temp dir from that seeder, one after the other (the
 *    order alternates between runs, and so does the order of the seeders), each in its own
 *    process measured by bench/measure.py (wait4 rusage).
 *    Each output is checked: every piece verified, and its SHA-256 equal to the payload's.
 * 4. Seeding (bench/seed.ts, with the plain seeder): per run, a stock libtorrent leecher
 *    downloads from our `seed` (dist/cli) and from the libtorrent seeder, each seeder's CPU
 *    read from /proc around the transfer.
 * 5. Prints the tables and appends a dated section to bench/RESULTS.md.
 * 6. With --profile, one more run of our leecher under `node --cpu-prof` (not in the table);
 *    its self-time summary goes into the same section.
 * 6b. With --trace, each run also has our leecher tracing every wire message to a file
 *    (BENCH_TRACE, what `download --trace` does): the row "ours+trace", and its cost against
 *    the untraced "ours" of the same runs.
 * 7. Start-up (bench/startup.ts): `info` against a bare `node`, and process start to the first
 *    block request, ours (the bundled executable) beside libtorrent's.
 *
 * Loopback only. The only processes stopped are the ones this script started, by PID.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { appendFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { basename, join } from "node:path"
import { formatSummary, readProfile, summarizeProfile } from "./profile-summary.ts"
import { parseArgs, sizeLabel } from "./args.ts"
import { benchGrowth } from "./growth.ts"
import { ltbench, processCpuSeconds, python, startSeeder } from "./lt-seeder.ts"
import { benchScale } from "./scale.ts"
import { benchSeed } from "./seed.ts"
import { measureStartup, median } from "./startup.ts"

const benchDir = new URL(".", import.meta.url).pathname
const dataDir = join(benchDir, "data")
const profileDir = join(benchDir, "profiles")
const measure = join(benchDir, "measure.py")
/** The V8 flags bin/effect-torrent.js runs with (its shebang), so the bench measures the client as shipped. */
const CLI_NODE_FLAGS = ["--max-semi-space-size=8"]
/** Start-up runs per program (bench/startup.ts); each figure is their median. */
const STARTUP_RUNS = 9

interface Measured {
  readonly leecher: "ours" | "ours+trace" | "libtorrent"
  /** The seeder it downloaded from: plaintext payload, or RC4 forced. */
  readonly seeder: "plain" | "rc4"
  readonly transferSeconds: number
  readonly wallSeconds: number
  readonly cpuSeconds: number
  /** CPU (user + system, every thread) from adding the torrent to complete, as the leecher reports it. */
  readonly transferCpuSeconds: number
  readonly maxRssKiB: number
  readonly peakRssAnonKiB: number
  readonly seederCpuSeconds: number
  /** 1-minute load average when the run started: other work on the machine skews a run. */
  readonly loadAverage: number
  /** Our leecher only: peaks of process.memoryUsage(), MiB. */
  readonly memoryMiB?: Readonly<Record<string, number>>
}

const run = (file: string, args: ReadonlyArray<string>, options: { readonly shell?: boolean } = {}): void => {
  const result = spawnSync(file, args, { stdio: "inherit", shell: options.shell ?? false })
  if (result.status !== 0) throw new Error(`${file} ${args.join(" ")} exited with ${result.status}`)
}

const sha256 = (path: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const hash = createHash("sha256")
    createReadStream(path, { highWaterMark: 4 << 20 })
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")))
  })

/** The payload, its torrent and its SHA-256, made on first use and reused afterwards. */
const ensurePayload = async (size: number) => {
  mkdirSync(dataDir, { recursive: true })
  const name = `payload-${sizeLabel(size)}.bin`
  const payload = join(dataDir, name)
  const torrent = join(dataDir, `payload-${sizeLabel(size)}.torrent`)
  const digestFile = `${payload}.sha256`
  if (!existsSync(payload) || statSync(payload).size !== size) {
    console.log(`generating ${name} (${size} bytes)...`)
    rmSync(torrent, { force: true })
    rmSync(digestFile, { force: true })
    run("sh", ["-c", `openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f -iv 0 < /dev/zero 2>/dev/null | head -c ${size} > '${payload}'`])
  }
  if (!existsSync(torrent)) run(python, [ltbench, "make-torrent", payload, torrent])
  if (!existsSync(digestFile)) writeFileSync(digestFile, await sha256(payload))
  return { name, payload, torrent, digest: readFileSync(digestFile, "utf8").trim() }
}

interface LeechOutcome {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly bytes: number
  readonly pieces: number
  readonly pieceCount: number
  readonly memoryMiB?: Readonly<Record<string, number>>
}

const leech = async (
  leecher: Measured["leecher"],
  payload: Awaited<ReturnType<typeof ensurePayload>>,
  seeder: { readonly pid: number; readonly port: number; readonly kind: Measured["seeder"] },
  size: number,
  transport: string,
  nodeFlags: ReadonlyArray<string> = CLI_NODE_FLAGS
): Promise<Measured> => {
  const dir = mkdtempSync(join(tmpdir(), `et-bench-${leecher}-`))
  const out = join(dir, "out")
  mkdirSync(out)
  const report = join(dir, "measure.json")
  const command = leecher !== "libtorrent"
    ? [process.execPath, ...nodeFlags, OURS_BUILT, payload.torrent, out, String(seeder.port), transport]
    : [python, ltbench, "leech", payload.torrent, out, String(seeder.port), transport]
  try {
    const loadAverage = loadavg()[0] ?? 0
    const seederCpuBefore = processCpuSeconds(seeder.pid)
    const env = leecher === "ours+trace" ? { ...process.env, BENCH_TRACE: join(dir, "trace.jsonl") } : process.env
    const child = spawnSync(python, [measure, report, ...command], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20, env })
    const seederCpuSeconds = processCpuSeconds(seeder.pid) - seederCpuBefore
    if (child.status !== 0) throw new Error(`${leecher} leecher exited with ${child.status}:\n${child.stdout}`)
    const lastLine = child.stdout.trim().split("\n").at(-1) ?? ""
    const outcome = JSON.parse(lastLine) as LeechOutcome
    const m = JSON.parse(readFileSync(report, "utf8")) as {
      wallSeconds: number
      userSeconds: number
      systemSeconds: number
      maxRssKiB: number
      peakRssAnonKiB: number
    }
    if (outcome.bytes !== size || outcome.pieces !== outcome.pieceCount) {
      throw new Error(`${leecher}: incomplete: ${outcome.pieces}/${outcome.pieceCount} pieces, ${outcome.bytes} bytes`)
    }
    const digest = await sha256(join(out, payload.name))
    if (digest !== payload.digest) throw new Error(`${leecher}: output SHA-256 ${digest} != payload ${payload.digest}`)
    return {
      leecher,
      seeder: seeder.kind,
      transferSeconds: outcome.seconds,
      wallSeconds: m.wallSeconds,
      cpuSeconds: m.userSeconds + m.systemSeconds,
      transferCpuSeconds: outcome.cpuSeconds,
      maxRssKiB: m.maxRssKiB,
      peakRssAnonKiB: m.peakRssAnonKiB,
      seederCpuSeconds,
      loadAverage,
      ...(outcome.memoryMiB === undefined ? {} : { memoryMiB: outcome.memoryMiB })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    // Write back the dirty pages now, so they do not slow down the next leecher.
    run("sync", [])
  }
}

const mbps = (size: number, m: Measured) => size / m.transferSeconds / 1e6
const mb = (kib: number) => (kib * 1024) / 1e6

/** CPU seconds per GiB of payload, over the transfer (process start-up left out). */
const cpuPerGiB = (size: number, m: Measured) => m.transferCpuSeconds / (size / 2 ** 30)

const row = (size: number, m: Measured): string =>
  `| ${m.leecher} | ${m.seeder} | ${mbps(size, m).toFixed(1)} | ${m.transferSeconds.toFixed(2)} | ${m.wallSeconds.toFixed(2)} | ${m.cpuSeconds.toFixed(2)} | ${cpuPerGiB(size, m).toFixed(1)} | ${mb(m.maxRssKiB).toFixed(0)} | ${mb(m.peakRssAnonKiB).toFixed(0)} | ${m.seederCpuSeconds.toFixed(2)} | ${m.loadAverage.toFixed(1)} |`

const report = (size: number, results: ReadonlyArray<Measured>): string => {
  const of = (who: Measured["leecher"], seeder: Measured["seeder"]) => results.filter((r) => r.leecher === who && r.seeder === seeder)
  const ours = results.filter((r) => r.leecher === "ours")
  const ratio = (a: ReadonlyArray<Measured>, b: ReadonlyArray<Measured>, f: (m: Measured) => number) => median(a.map(f)) / median(b.map(f))
  const rate = (m: Measured) => mbps(size, m)
  const seeders = (["plain", "rc4"] as const).filter((k) => results.some((r) => r.seeder === k))
  return [
    "| leecher | seeder | MB/s | transfer s | process wall s | CPU s (user+sys) | transfer CPU s/GiB | peak RSS MB | peak anon RSS MB | seeder CPU s | load avg |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map((m) => row(size, m)),
    "",
    ...seeders.map((k) =>
      `${k} seeder, ours / libtorrent (medians): throughput **${ratio(of("ours", k), of("libtorrent", k), rate).toFixed(2)}x**, ` +
      `CPU ${ratio(of("ours", k), of("libtorrent", k), (m) => m.cpuSeconds).toFixed(2)}x ` +
      `(${median(of("ours", k).map((m) => cpuPerGiB(size, m))).toFixed(1)} vs ${median(of("libtorrent", k).map((m) => cpuPerGiB(size, m))).toFixed(1)} CPU s/GiB), ` +
      `peak RSS ${ratio(of("ours", k), of("libtorrent", k), (m) => m.maxRssKiB).toFixed(2)}x, ` +
      `peak anon RSS ${ratio(of("ours", k), of("libtorrent", k), (m) => m.peakRssAnonKiB).toFixed(2)}x`
    ).flatMap((line) => [line, ""]),
    ...seeders.flatMap((k) => of("ours+trace", k).length === 0 ? [] : [
      `${k} seeder, trace cost (ours+trace / ours, medians, same runs): throughput **${ratio(of("ours+trace", k), of("ours", k), rate).toFixed(2)}x** ` +
      `(target >= 0.90), transfer CPU ${ratio(of("ours+trace", k), of("ours", k), (m) => m.transferCpuSeconds).toFixed(2)}x`,
      ""
    ]),
    ...(seeders.length < 2 ? [] : [
      `RC4 / plaintext (medians, same run): ours **${ratio(of("ours", "rc4"), of("ours", "plain"), rate).toFixed(2)}x** ` +
      `(target >= 0.75), libtorrent ${ratio(of("libtorrent", "rc4"), of("libtorrent", "plain"), rate).toFixed(2)}x`,
      ""
    ]),
    "Our leecher's memory, peaks of `process.memoryUsage()` in MiB (rssBeforeAdd: client built, nothing downloaded):",
    "",
    ...ours.flatMap((m) => m.memoryMiB === undefined ? [] : [
      `- ${Object.entries(m.memoryMiB).map(([k, v]) => `${k} ${v}`).join(", ")}`
    ])
  ].join("\n")
}

const environment = (): string => {
  const lt = spawnSync(python, ["-c", "import libtorrent; print(libtorrent.__version__)"], { encoding: "utf8" }).stdout.trim()
  const commit = spawnSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", cwd: benchDir }).stdout.trim()
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src"], { encoding: "utf8", cwd: benchDir }).stdout.trim()
  const tree = dirty === "" ? "" : ` + ${dirty.split("\n").length} uncommitted change(s) in src/ (shared working tree)`
  return `Node ${process.version}, python3-libtorrent ${lt}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}, commit ${commit}${tree}`
}

const profileOnce = async (
  payload: Awaited<ReturnType<typeof ensurePayload>>,
  seeder: { readonly pid: number; readonly port: number; readonly kind: Measured["seeder"] },
  size: number,
  transport: string
) => {
  mkdirSync(profileDir, { recursive: true })
  const name = `leech-ours-${seeder.kind}-${sizeLabel(size)}-${new Date().toISOString().replaceAll(":", "")}.cpuprofile`
  const m = await leech("ours", payload, seeder, size, transport, [...CLI_NODE_FLAGS, "--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", name])
  const path = join(profileDir, name)
  if (!readdirSync(profileDir).includes(name)) throw new Error(`no profile written at ${path}`)
  return { m, path, summary: formatSummary(summarizeProfile(readProfile(path)), 25) }
}

/**
 * Our leecher compiled to JavaScript (bench/tsconfig.build.json), as a published package would
 * ship it: running the .ts sources directly also loads Node's type stripper (~25 MB RSS).
 */
const OURS_BUILT = join(benchDir, ".build", "bench", "leech-ours.js")
const buildOurs = (): void => {
  console.log("compiling the client (bench/tsconfig.build.json)...")
  run(join(benchDir, "..", "node_modules", ".bin", "tsc"), ["-p", join(benchDir, "tsconfig.build.json")])
}

const main = async () => {
  const options = parseArgs(process.argv.slice(2))
  if (options.scale) {
    console.log(await benchScale({ runs: options.runs, record: options.record }))
    return
  }
  buildOurs()
  if (options.growth !== undefined) {
    const section = await benchGrowth({ benchDir, dataDir, oursBuilt: OURS_BUILT, nodeFlags: CLI_NODE_FLAGS, sizes: options.growth, runs: options.runs })
    console.log(`\n${section}`)
    if (options.record) {
      appendFileSync(join(benchDir, "RESULTS.md"), `\n## ${new Date().toISOString()}: growth (issue 15), ${options.runs} run(s)\n\n${environment()}\n\n${section}\n`)
      console.log("\nappended to bench/RESULTS.md")
    }
    return
  }
  const built = spawnSync(process.execPath, [join(benchDir, "..", "scripts", "build.ts")], { stdio: "inherit" })
  if (built.status !== 0) throw new Error(`npm run build exited with ${built.status}`)
  const payload = await ensurePayload(options.size)
  console.log(`payload ${payload.name}, sha256 ${payload.digest}`)
  const seeders: Array<{ readonly pid: number; readonly port: number; readonly kind: Measured["seeder"]; readonly stop: () => Promise<void> }> = []
  const stopAll = () => Promise.all(seeders.map((s) => s.stop()))
  const stopOnSignal = () => void stopAll().then(() => process.exit(130))
  process.once("SIGINT", stopOnSignal)
  process.once("SIGTERM", stopOnSignal)
  const results: Array<Measured> = []
  const profiles: Array<Awaited<ReturnType<typeof profileOnce>>> = []
  let seedSection: string | undefined
  try {
    for (const kind of options.seeders) {
      const seeder = { ...(await startSeeder({ torrent: payload.torrent, dataDir, transport: options.transport, forceEncryption: kind === "rc4" })), kind }
      seeders.push(seeder)
      console.log(`${kind} seeder pid ${seeder.pid} on 127.0.0.1:${seeder.port}`)
    }
    for (let i = 0; i < (options.skip.has("leech") ? 0 : options.runs); i++) {
      const leechers: ReadonlyArray<Measured["leecher"]> = options.trace ? ["ours", "ours+trace", "libtorrent"] : ["ours", "libtorrent"]
      const order = i % 2 === 0 ? leechers : [...leechers].reverse()
      const seederOrder = i % 2 === 0 ? seeders : [...seeders].reverse()
      for (const seeder of seederOrder) {
        for (const who of order) {
          console.log(`run ${i + 1}/${options.runs}: ${who} from the ${seeder.kind} seeder...`)
          const m = await leech(who, payload, seeder, options.size, options.transport)
          console.log(row(options.size, m))
          results.push(m)
        }
      }
    }
    const plain = seeders.find((s) => s.kind === "plain")
    if (!options.skip.has("seed") && plain !== undefined) {
      seedSection = await benchSeed({
        benchDir,
        python,
        torrent: payload.torrent,
        dataDir,
        digest: payload.digest,
        payloadName: payload.name,
        size: options.size,
        runs: options.runs,
        transport: options.transport,
        libtorrentSeeder: plain,
        nodeFlags: CLI_NODE_FLAGS,
        cpuSeconds: processCpuSeconds,
        sha256,
        baselineCli: options.seedBaseline,
        profileDir: options.seedProfile ? (mkdirSync(profileDir, { recursive: true }), profileDir) : undefined
      })
    }
    if (options.profile) {
      for (const seeder of seeders) {
        console.log(`profiling our leecher from the ${seeder.kind} seeder (node --cpu-prof)...`)
        profiles.push(await profileOnce(payload, seeder, options.size, options.transport))
      }
    }
  } finally {
    await stopAll()
  }
  const parts: Array<string> = []
  if (results.length > 0) parts.push(report(options.size, results))
  if (seedSection !== undefined) parts.push(seedSection)
  if (!options.skip.has("startup")) {
    console.log("start-up: info and first request, ours (dist/cli) and libtorrent's...")
    parts.push(await measureStartup({ runs: STARTUP_RUNS, torrent: payload.torrent }))
  }
  const table = parts.join("\n\n")
  const section = [
    `## ${new Date().toISOString()}: ${sizeLabel(options.size)}, ${options.runs} run(s), ${options.transport === "utp" ? "uTP (libtorrent with TCP off)" : "TCP"}`,
    "",
    environment(),
    "",
    table,
    ...profiles.flatMap((profile) => [
      "",
      `### CPU profile of our leecher, ${profile.m.seeder} seeder (${sizeLabel(options.size)}, ${mbps(options.size, profile.m).toFixed(1)} MB/s under the profiler)`,
      "",
      `\`${basename(profile.path)}\` (bench/profiles/, git-ignored).`,
      "",
      profile.summary
    ]),
    ""
  ].join("\n")
  console.log(`\n${table}`)
  for (const profile of profiles) console.log(`\n${profile.summary}`)
  if (options.record) {
    appendFileSync(join(benchDir, "RESULTS.md"), `\n${section}`)
    console.log("\nappended to bench/RESULTS.md")
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exit(1)
})
