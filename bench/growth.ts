/**
 * `npm run bench -- --growth`: is our leecher's memory flat in torrent size (issue 15: 1 GiB
 * and 16 GiB within 10 % of each other in peak anonymous memory)?
 *
 * Per size (1 GiB and 16 GiB by default), a sparse all-zero payload in bench/data/ (a
 * `truncate`d file: no disk blocks, reads cost nothing) and its v1 torrent with 1 MiB pieces
 * (every piece has the same SHA-1, so the torrent is written here, not hashed by libtorrent).
 * A python3-libtorrent seeder in seed mode (no start-up check of 16 GiB) serves it on
 * 127.0.0.1; our leecher (bench/leech-ours.ts, compiled) downloads it under bench/measure.py,
 * which samples peak RssAnon every 50 ms. The payload still travels and every piece is still
 * hash-verified by our leecher; the output's SHA-256 is not computed (16 GiB of zeros), the
 * leecher's verified-piece count is checked instead. Sizes alternate between runs.
 *
 * Loopback only; the output (written in full, 16 GiB) goes to a temp dir removed after each run.
 */
import { spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { encode } from "../src/bencode/index.ts"
import { sizeLabel } from "./args.ts"
import { python, startSeeder } from "./lt-seeder.ts"
import { median } from "./startup.ts"

const PIECE = 1 << 20

export interface GrowthInput {
  readonly benchDir: string
  readonly dataDir: string
  /** The compiled bench/leech-ours.js and the V8 flags the CLI ships with. */
  readonly oursBuilt: string
  readonly nodeFlags: ReadonlyArray<string>
  readonly sizes: ReadonlyArray<number>
  readonly runs: number
}

interface GrowthMeasured {
  readonly size: number
  readonly transferSeconds: number
  readonly cpuSeconds: number
  readonly peakRssAnonKiB: number
  readonly maxRssKiB: number
  readonly memoryMiB: Readonly<Record<string, number>>
  readonly loadAverage: number
}

/** A sparse zero file of `size` bytes and its torrent (made once, then reused). */
const ensureSparse = (dataDir: string, size: number) => {
  mkdirSync(dataDir, { recursive: true })
  const name = `sparse-${sizeLabel(size)}.bin`
  const payload = join(dataDir, name)
  const torrent = join(dataDir, `sparse-${sizeLabel(size)}.torrent`)
  if (!existsSync(payload) || statSync(payload).size !== size) {
    const fd = openSync(payload, "w")
    try {
      ftruncateSync(fd, size)
    } finally {
      closeSync(fd)
    }
  }
  if (!existsSync(torrent)) {
    const count = Math.ceil(size / PIECE)
    const full = createHash("sha1").update(new Uint8Array(PIECE)).digest()
    const pieces = new Uint8Array(count * 20)
    for (let i = 0; i < count; i++) pieces.set(full, i * 20)
    const lastLength = size - (count - 1) * PIECE
    if (lastLength !== PIECE) pieces.set(createHash("sha1").update(new Uint8Array(lastLength)).digest(), (count - 1) * 20)
    writeFileSync(torrent, encode({
      "created by": "effect-torrent bench (growth)",
      info: { length: size, name, "piece length": PIECE, pieces }
    }))
  }
  return { name, torrent }
}

const leech = (input: GrowthInput, torrent: string, port: number, size: number): GrowthMeasured => {
  const dir = mkdtempSync(join(tmpdir(), "et-bench-growth-"))
  const out = join(dir, "out")
  mkdirSync(out)
  const report = join(dir, "measure.json")
  try {
    const loadAverage = loadavg()[0] ?? 0
    const child = spawnSync(python, [
      join(input.benchDir, "measure.py"), report,
      process.execPath, ...input.nodeFlags, input.oursBuilt, torrent, out, String(port), "tcp"
    ], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 20 })
    if (child.status !== 0) throw new Error(`our leecher exited with ${child.status}:\n${child.stdout}`)
    const outcome = JSON.parse(child.stdout.trim().split("\n").at(-1) ?? "") as {
      seconds: number
      cpuSeconds: number
      bytes: number
      pieces: number
      pieceCount: number
      memoryMiB: Record<string, number>
    }
    if (outcome.bytes !== size || outcome.pieces !== outcome.pieceCount) {
      throw new Error(`incomplete: ${outcome.pieces}/${outcome.pieceCount} pieces, ${outcome.bytes} bytes`)
    }
    const m = JSON.parse(readFileSync(report, "utf8")) as { maxRssKiB: number; peakRssAnonKiB: number }
    return {
      size,
      transferSeconds: outcome.seconds,
      cpuSeconds: outcome.cpuSeconds,
      peakRssAnonKiB: m.peakRssAnonKiB,
      maxRssKiB: m.maxRssKiB,
      memoryMiB: outcome.memoryMiB,
      loadAverage
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
    spawnSync("sync", [])
  }
}

const mib = (kib: number) => (kib / 1024).toFixed(0)

const row = (m: GrowthMeasured): string =>
  `| ${sizeLabel(m.size)} | ${(m.size / m.transferSeconds / 1e6).toFixed(1)} | ${m.transferSeconds.toFixed(1)} | ${m.cpuSeconds.toFixed(1)} | ` +
  `${mib(m.peakRssAnonKiB)} | ${mib(m.maxRssKiB)} | ${m.memoryMiB.peakHeapUsed ?? "?"} | ${m.memoryMiB.peakArrayBuffers ?? "?"} | ${m.loadAverage.toFixed(1)} |`

/** Runs the growth comparison; returns its Markdown section (table and the largest/smallest ratio). */
export const benchGrowth = async (input: GrowthInput): Promise<string> => {
  const results: Array<GrowthMeasured> = []
  for (let i = 0; i < input.runs; i++) {
    const order = i % 2 === 0 ? input.sizes : [...input.sizes].reverse()
    for (const size of order) {
      const { torrent } = ensureSparse(input.dataDir, size)
      const seeder = await startSeeder({ torrent, dataDir: input.dataDir, transport: "tcp", seedMode: true })
      try {
        console.log(`growth run ${i + 1}/${input.runs}: ${sizeLabel(size)} (sparse) from libtorrent pid ${seeder.pid}...`)
        const m = leech(input, torrent, seeder.port, size)
        console.log(row(m))
        results.push(m)
      } finally {
        await seeder.stop()
      }
    }
  }
  const anon = (size: number) => median(results.filter((m) => m.size === size).map((m) => m.peakRssAnonKiB))
  const sizes = [...input.sizes].sort((a, b) => a - b)
  const smallest = sizes[0] ?? 0
  const largest = sizes.at(-1) ?? 0
  return [
    "Growth: our leecher (compiled, CLI flags) downloads a sparse all-zero payload (1 MiB pieces, every piece",
    "hash-verified) from a python3-libtorrent seeder in seed mode, TCP; peak anon sampled every 50 ms by measure.py:",
    "",
    "| size | MB/s | transfer s | transfer CPU s | peak anon MiB | peak RSS MiB | peak heap used MiB | peak ArrayBuffers MiB | load avg |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(row),
    "",
    `peak anon ${sizeLabel(largest)} / ${sizeLabel(smallest)} (medians): **${(anon(largest) / anon(smallest)).toFixed(2)}x** (goal within 10 %)`
  ].join("\n")
}
