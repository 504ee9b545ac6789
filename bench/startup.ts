/**
 * Start-up, ours against libtorrent's and a bare Node's (part of `npm run bench`; alone:
 * `node bench/startup.ts [--runs 7]`, which prints the table without recording it; it builds first).
 *
 * - `info`: wall time of `effect-torrent info x.torrent` (the bundled executable as
 *   installed, dist/cli/effect-torrent.js, with the V8 flag its shebang passes) beside
 *   `node -e 0`, and of python3-libtorrent reading the same torrent beside `python3 -c pass`.
 * - first request: from spawning `effect-torrent download x.torrent --peer 127.0.0.1:P
 *   --no-dht` (and libtorrent's stock leecher, bench/ltbench.py) until the first block
 *   request reaches a peer this script plays on 127.0.0.1: it answers the handshake,
 *   offers every piece and unchokes, and stamps the first `request` message (id 6). Then
 *   the leecher is stopped by PID.
 *
 * Runs alternate between the programs, so load on the machine shifts them alike; each
 * figure is a median.
 */
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs"
import { createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { performance } from "node:perf_hooks"
import { Effect } from "effect"
import { parseMetainfo } from "../src/metainfo/index.ts"

const benchDir = new URL(".", import.meta.url).pathname
const BIN = join(benchDir, "..", "dist", "cli", "effect-torrent.js")
const PYTHON = "/usr/bin/python3"
/** The V8 flag bin.ts's shebang passes. */
const SHEBANG_FLAGS = ["--max-semi-space-size=8"]

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Wall seconds of one run of `command`, which must exit 0. */
const wall = (command: ReadonlyArray<string>): number => {
  const [file = "", ...args] = command
  const start = performance.now()
  const result = spawnSync(file, args, { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
  const seconds = (performance.now() - start) / 1000
  if (result.status !== 0) throw new Error(`${command.join(" ")} exited with ${result.status}: ${result.stderr}`)
  return seconds
}

/** A peer that has every piece and records when the first block request arrives. */
export const fakeSeeder = (infoHash: Uint8Array, pieceCount: number) => {
  let firstRequest: ((at: number) => void) | undefined
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    socket.on("error", () => {})
    let buffered = Buffer.alloc(0)
    let handshaken = false
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!handshaken) {
        if (buffered.length < 68) return
        if (!Buffer.from(infoHash).equals(buffered.subarray(28, 48))) return void socket.destroy()
        handshaken = true
        buffered = buffered.subarray(68)
        const bitfield = Buffer.alloc(Math.ceil(pieceCount / 8))
        for (let i = 0; i < pieceCount; i++) bitfield[i >> 3] = (bitfield[i >> 3] ?? 0) | (0x80 >> (i & 7))
        const bitfieldMessage = Buffer.alloc(5)
        bitfieldMessage.writeUInt32BE(bitfield.length + 1)
        bitfieldMessage[4] = 5
        socket.write(Buffer.concat([
          Buffer.from([19]), Buffer.from("BitTorrent protocol"), Buffer.alloc(8), Buffer.from(infoHash),
          Buffer.from("-XX0000-startupbench"),
          bitfieldMessage, bitfield,
          Buffer.from([0, 0, 0, 1, 1]) // unchoke
        ]))
      }
      while (buffered.length >= 4) {
        const length = buffered.readUInt32BE(0)
        if (buffered.length < 4 + length) return
        if (length > 0 && buffered[4] === 6) firstRequest?.(performance.now())
        buffered = buffered.subarray(4 + length)
      }
    })
  })
  return {
    listen: () => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })),
    /** Resolves with the time the next first request arrives. */
    nextRequest: () => new Promise<number>((resolve) => { firstRequest = resolve }),
    dropAll: () => { for (const s of sockets) s.destroy() },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** Seconds from spawning `command` to the first request at the fake seeder; the process is stopped after. */
export const firstRequest = async (seeder: ReturnType<typeof fakeSeeder>, command: ReadonlyArray<string>): Promise<number> => {
  const [file = "", ...args] = command
  const requested = seeder.nextRequest()
  const start = performance.now()
  const child = spawn(file, args, { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    requested.then((at) => ({ at })),
    exited.then((code) => ({ code })),
    new Promise<{ timeout: true }>((resolve) => { timer = setTimeout(() => resolve({ timeout: true }), 60_000) })
  ])
  // A pending 60 s timer would keep the bench alive for a minute after its last run.
  clearTimeout(timer)
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM")
  await exited
  seeder.dropAll()
  if (!("at" in outcome)) throw new Error(`${command.join(" ")}: no request (${JSON.stringify(outcome)}): ${stderr}`)
  return (outcome.at - start) / 1000
}

export interface StartupOptions {
  readonly torrent: string
  readonly runs: number
}

/** Measures every row; returns the Markdown table and a sentence of ratios. */
export const measureStartup = async ({ runs, torrent }: StartupOptions): Promise<string> => {
  const meta = Effect.runSync(parseMetainfo(new Uint8Array(readFileSync(torrent))))
  const infoHash = meta.infoHash
  if (infoHash === null) throw new Error(`${torrent}: the start-up bench needs a v1 torrent`)
  if (meta.trackers.length > 0 || meta.webSeeds.length > 0) throw new Error(`${torrent}: trackers or web seeds would leave loopback`)
  const node = process.execPath
  const commands = {
    bareNode: [node, "-e", "0"],
    oursInfo: [node, ...SHEBANG_FLAGS, BIN, "info", torrent],
    barePython: [PYTHON, "-c", "pass"],
    libtorrentInfo: [PYTHON, "-c", "import sys, libtorrent as lt; ti = lt.torrent_info(sys.argv[1]); print(ti.name(), ti.num_pieces())", torrent]
  }
  const times: Record<keyof typeof commands | "oursRequest" | "libtorrentRequest", Array<number>> = {
    bareNode: [], oursInfo: [], barePython: [], libtorrentInfo: [], oursRequest: [], libtorrentRequest: []
  }
  const seeder = fakeSeeder(infoHash, meta.pieceCount)
  const port = await seeder.listen()
  const dir = mkdtempSync(join(tmpdir(), "et-startup-"))
  try {
    // One untimed run each: the first run after a build writes V8's code cache.
    for (const command of Object.values(commands)) wall(command)
    for (let i = 0; i < runs; i++) {
      for (const [name, command] of Object.entries(commands)) times[name as keyof typeof commands].push(wall(command))
      const out = (who: string) => mkdtempSync(join(dir, `${who}-`))
      const ours = [node, ...SHEBANG_FLAGS, BIN, "download", torrent, "--out", out("ours"), "--peer", `127.0.0.1:${port}`, "--no-dht", "--port", "0"]
      const lt = [PYTHON, join(benchDir, "ltbench.py"), "leech", torrent, out("lt"), String(port)]
      for (const [who, command] of i % 2 === 0 ? [["ours", ours], ["lt", lt]] as const : [["lt", lt], ["ours", ours]] as const) {
        times[who === "ours" ? "oursRequest" : "libtorrentRequest"].push(await firstRequest(seeder, command))
      }
    }
  } finally {
    await seeder.close()
    rmSync(dir, { recursive: true, force: true })
  }
  const ms = (xs: ReadonlyArray<number>) => `${(median(xs) * 1000).toFixed(0)} ms`
  const spread = (xs: ReadonlyArray<number>) => `${(Math.min(...xs) * 1000).toFixed(0)}–${(Math.max(...xs) * 1000).toFixed(0)}`
  const ratio = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => (median(a) / median(b)).toFixed(1)
  return [
    `Start-up, median of ${runs} (min–max ms):`,
    "",
    "| measure | ours | libtorrent (python3) | bare runtime |",
    "|---|---:|---:|---:|",
    `| \`info x.torrent\` wall | ${ms(times.oursInfo)} (${spread(times.oursInfo)}) | ${ms(times.libtorrentInfo)} (${spread(times.libtorrentInfo)}) | node -e 0: ${ms(times.bareNode)} (${spread(times.bareNode)}); python3 -c pass: ${ms(times.barePython)} |`,
    `| process start to first block request (\`download\`, loopback) | ${ms(times.oursRequest)} (${spread(times.oursRequest)}) | ${ms(times.libtorrentRequest)} (${spread(times.libtorrentRequest)}) | |`,
    "",
    `\`info\`: ours ${ratio(times.oursInfo, times.bareNode)}x a bare node (goal ≤ 4x); libtorrent ${ratio(times.libtorrentInfo, times.barePython)}x a bare python3. ` +
    `First request: ours ${ms(times.oursRequest)} (goal ≤ 400 ms), libtorrent ${ms(times.libtorrentRequest)}.`
  ].join("\n")
}

/** A trackerless v1 torrent of a 64 MiB file (sparse: no byte of it is ever sent) in `dir`. */
export const makeStartupTorrent = (dir: string): string => {
  const data = join(dir, "startup.bin")
  writeFileSync(data, "")
  truncateSync(data, 64 << 20)
  const torrent = join(dir, "startup.torrent")
  const made = spawnSync(PYTHON, [join(benchDir, "ltbench.py"), "make-torrent", data, torrent], { stdio: "inherit" })
  if (made.status !== 0) throw new Error(`ltbench.py make-torrent exited with ${made.status}`)
  return torrent
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const runsAt = args.indexOf("--runs")
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 7
  const built = spawnSync(process.execPath, [join(benchDir, "..", "scripts", "build.ts")], { stdio: "inherit" })
  if (built.status !== 0) throw new Error(`npm run build exited with ${built.status}`)
  const dir = mkdtempSync(join(tmpdir(), "et-startup-torrent-"))
  try {
    console.log(await measureStartup({ runs, torrent: makeStartupTorrent(dir) }))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
