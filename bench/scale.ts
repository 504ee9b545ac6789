/**
 * Scale on one process (issue 15): what idle peers and loaded torrents cost.
 *
 *   node bench/scale.ts [--runs 2] [--no-record] [--snapshots DIR]   (also `npm run bench -- --scale`)
 *
 * Options are bench/args.ts's (`--runs`, `--no-record`; at least 2 runs), plus `--snapshots`.
 *
 * - Torrents: bench/data/scale/ holds 100 torrents of 10 files (1,000 files, 64 KiB each),
 *   made once. A fresh client (bench/scale-subject.ts, its own process) adds them until
 *   1/10/50/100 seed, sampling at each step: RSS, JS heap and ArrayBuffers after two full
 *   GCs, CPU spent adding, and CPU over a 3 s idle window.
 * - Peers: a fresh client seeds one of those torrents; this process opens 100, then 250, then
 *   500 real TCP connections to it on 127.0.0.1, each sending a plain BitTorrent handshake
 *   (distinct peer ids, no extension bits) and reading what comes back, then staying idle.
 *   A step counts once every connection has had the client's handshake back; the sample then
 *   also reports how many peers the client itself counts.
 * Every figure is a median over `--runs` fresh processes; the 1-minute load average is given.
 */
import { spawn, type ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { loadavg } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { Effect } from "effect"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { createTorrent } from "../src/metainfo/create.ts"
import { parseMetainfoResult } from "../src/metainfo/parse.ts"
import { encodeHandshake } from "../src/wire/handshake.ts"
import { parseArgs } from "./args.ts"
import { median } from "./startup.ts"

const benchDir = new URL(".", import.meta.url).pathname
const scaleDir = join(benchDir, "data", "scale")
const payloadDir = join(scaleDir, "payload")
const torrentDir = join(scaleDir, "torrents")
const TORRENTS = 100
const FILES_PER_TORRENT = 10
const FILE_BYTES = 64 * 1024
const TORRENT_STEPS = [1, 10, 50, 100] as const
const PEER_STEPS = [0, 100, 250, 500] as const

interface Sample {
  readonly torrents: number
  readonly peers: number
  readonly rss: number
  readonly heapUsed: number
  readonly external: number
  readonly arrayBuffers: number
  readonly cpuMs: number
  readonly idleCpuMsPerS: number
  readonly load: number
}

/** Makes the 100 torrents (once; later runs reuse them). */
const makeTorrents = async (): Promise<ReadonlyArray<string>> => {
  const paths = Array.from({ length: TORRENTS }, (_, i) => join(torrentDir, `t${String(i).padStart(3, "0")}.torrent`))
  if (paths.every(existsSync)) return paths
  mkdirSync(torrentDir, { recursive: true })
  for (let t = 0; t < TORRENTS; t++) {
    const dir = join(payloadDir, `t${String(t).padStart(3, "0")}`)
    mkdirSync(dir, { recursive: true })
    for (let f = 0; f < FILES_PER_TORRENT; f++) writeFileSync(join(dir, `file${f}.bin`), randomBytes(FILE_BYTES))
    const created = await Effect.runPromise(createTorrent(dir).pipe(Effect.provide(NodeFileSystem.layer)))
    writeFileSync(paths[t] ?? "", created.torrent)
  }
  return paths
}

/** The subject process and a way to send it a line and read its next JSON line. */
const startSubject = async (torrents: ReadonlyArray<string>) => {
  // SCALE_NODE_FLAGS: extra flags for the measured process, e.g. "--heap-prof --heap-prof-dir DIR"
  const extra = (process.env.SCALE_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "")
  const child: ChildProcess = spawn(process.execPath, [...extra, "--expose-gc", join(benchDir, "scale-subject.ts"), payloadDir, ...torrents], {
    stdio: ["pipe", "pipe", "inherit"]
  })
  const stdout = child.stdout
  const stdin = child.stdin
  if (stdout === null || stdin === null) throw new Error("subject has no pipes")
  const lines = createInterface({ input: stdout })
  const pending: Array<{ readonly resolve: (line: string) => void; readonly reject: (error: Error) => void }> = []
  const queued: Array<string> = []
  lines.on("line", (line) => {
    const next = pending.shift()
    if (next === undefined) queued.push(line)
    else next.resolve(line)
  })
  // one listener for the process, not one per line read: a run reads dozens of lines
  child.once("exit", (code) => {
    for (const waiter of pending.splice(0)) waiter.reject(new Error(`subject exited (${code})`))
  })
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const ready = queued.shift()
      if (ready !== undefined) return resolve(ready)
      if (child.exitCode !== null) return reject(new Error(`subject exited (${child.exitCode})`))
      pending.push({ resolve, reject })
    })
  const ready = JSON.parse(await nextLine()) as { readonly ready: number }
  const ask = async (command: string): Promise<Sample> => {
    stdin.write(`${command}\n`)
    const sample = JSON.parse(await nextLine()) as Omit<Sample, "load">
    return { ...sample, load: loadavg()[0] ?? 0 }
  }
  const stop = () => {
    stdin.write("quit\n")
    return new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve()
      else child.once("exit", () => resolve())
    })
  }
  return { port: ready.ready, ask, stop }
}

/** One idle peer: connects, handshakes, resolves once the client's handshake is back. */
const openPeer = (port: number, infoHash: Uint8Array): Promise<Socket> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port })
    let received = 0
    socket.once("error", reject)
    socket.on("data", (chunk) => {
      received += chunk.length
      if (received >= 68) resolve(socket)
    })
    socket.once("connect", () => socket.write(encodeHandshake({ infoHash, peerId: randomBytes(20) })))
    socket.once("close", () => reject(new Error(`peer closed after ${received} bytes`)))
  })

const torrentRun = async (torrents: ReadonlyArray<string>): Promise<Array<Sample>> => {
  const subject = await startSubject(torrents)
  const samples = [await subject.ask("sample")]
  let loaded = 0
  for (const step of TORRENT_STEPS) {
    samples.push(await subject.ask(`add ${step - loaded}`))
    loaded = step
  }
  await subject.stop()
  return samples
}

const peerRun = async (torrents: ReadonlyArray<string>, snapshotDir?: string): Promise<Array<Sample>> => {
  const first = torrents[0]
  if (first === undefined) throw new Error("no torrent")
  const parsed = parseMetainfoResult(new Uint8Array(readFileSync(first)))
  if (parsed._tag !== "Success" || parsed.success.infoHash === null) throw new Error("scale torrent does not parse")
  const infoHash = parsed.success.infoHash
  const subject = await startSubject([first])
  const samples = [await subject.ask("add 1")]
  if (snapshotDir !== undefined) {
    await subject.ask(`snapshot ${join(snapshotDir, "peers-0.heapsnapshot")}`)
    await subject.ask("heapprof start")
  }
  const sockets: Array<Socket> = []
  for (const step of PEER_STEPS.slice(1)) {
    // 50 handshakes at a time: the client takes them as fast as it can, none is left waiting long
    while (sockets.length < step) {
      const batch = Math.min(50, step - sockets.length)
      sockets.push(...await Promise.all(Array.from({ length: batch }, () => openPeer(subject.port, infoHash))))
    }
    samples.push(await subject.ask("sample"))
  }
  if (snapshotDir !== undefined) {
    await subject.ask(`heapprof stop ${join(snapshotDir, "peers-500.heapprofile")}`)
    await subject.ask(`snapshot ${join(snapshotDir, "peers-500.heapsnapshot")}`)
  }
  await subject.stop()
  for (const s of sockets) s.destroy()
  return samples
}

const kib = (bytes: number) => bytes / 1024
const mib = (bytes: number) => bytes / 2 ** 20
const fixed = (x: number, digits = 1) => x.toFixed(digits)

/** Per step, the median over runs of each field. */
const medians = (runs: ReadonlyArray<ReadonlyArray<Sample>>): Array<Sample> =>
  (runs[0] ?? []).map((_, i) => {
    const at = (f: (s: Sample) => number) => median(runs.map((r) => { const s = r[i]; return s === undefined ? 0 : f(s) }))
    return {
      torrents: at((s) => s.torrents),
      peers: at((s) => s.peers),
      rss: at((s) => s.rss),
      heapUsed: at((s) => s.heapUsed),
      external: at((s) => s.external),
      arrayBuffers: at((s) => s.arrayBuffers),
      cpuMs: at((s) => s.cpuMs),
      idleCpuMsPerS: at((s) => s.idleCpuMsPerS),
      load: at((s) => s.load)
    }
  })

const table = (label: string, rows: ReadonlyArray<Sample>, base: Sample): string => {
  const head = `| ${label} | RSS MiB | Δ RSS MiB | JS heap MiB | ArrayBuffers MiB | CPU to get here ms | idle CPU ms/s | load |\n|---:|---:|---:|---:|---:|---:|---:|---:|`
  const body = rows.map((r) =>
    `| ${label === "torrents" ? r.torrents : r.peers} | ${fixed(mib(r.rss))} | ${fixed(mib(r.rss - base.rss))} | ${fixed(mib(r.heapUsed))} | ${fixed(mib(r.arrayBuffers), 2)} | ${fixed(r.cpuMs, 0)} | ${fixed(r.idleCpuMsPerS, 2)} | ${fixed(r.load)} |`
  )
  return [head, ...body].join("\n")
}

/** `runs` below 2 count as 2: a median of one process says nothing of the spread. */
export const benchScale = async (options: { readonly runs: number; readonly record: boolean }): Promise<string> => {
  const runs = Math.max(2, options.runs)
  const torrents = await makeTorrents()
  const peerRuns: Array<Array<Sample>> = []
  const torrentRuns: Array<Array<Sample>> = []
  for (let i = 0; i < runs; i++) {
    peerRuns.push(await peerRun(torrents))
    torrentRuns.push(await torrentRun(torrents))
  }
  const peers = medians(peerRuns)
  const loaded = medians(torrentRuns)
  const peerBase = peers[0]
  const peerTop = peers[peers.length - 1]
  const torrentTop = loaded[loaded.length - 1]
  if (peerBase === undefined || peerTop === undefined || torrentTop === undefined) throw new Error("no samples")
  const opened = PEER_STEPS[PEER_STEPS.length - 1] ?? 1

  const perPeerHeap = kib(peerTop.heapUsed + peerTop.external - peerBase.heapUsed - peerBase.external) / opened
  // From the first step on: the code compiled for the first connections (JIT, about 4 KiB a
  // peer of the 0 -> 500 figure at 500) is not in it, so it is what one more peer costs.
  const peerFirst = peers[1] ?? peerBase
  const marginalHeap = kib(peerTop.heapUsed + peerTop.external - peerFirst.heapUsed - peerFirst.external) / (opened - peerFirst.peers)
  const perPeerRunValues = peerRuns.map((r) => {
    const a = r[0], b = r[r.length - 1]
    return a === undefined || b === undefined ? Number.NaN : kib(b.rss - a.rss) / opened
  })
  const perPeerRuns = perPeerRunValues.map((x) => fixed(x))
  // the median of the runs' own per-peer figures (not the difference of the medians)
  const perPeerRss = median(perPeerRunValues)
  const text = [
    `## Scale, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (issue 15; \`node bench/scale.ts --runs ${runs}\`, medians of ${runs} fresh processes, 2 cores)`,
    "",
    `Idle peers (one torrent seeding, real TCP handshakes on 127.0.0.1, then idle; the client counted ${peerTop.peers} of ${opened}):`,
    "",
    table("peers", peers, peerBase),
    "",
    `Per idle peer, 0 → ${opened}: **${fixed(perPeerHeap)} KiB JS heap + external** (goal ≤ 20 KiB: ${perPeerHeap <= 20 ? "holds" : "does not hold"}); ${fixed(marginalHeap)} KiB from ${peerFirst.peers} to ${opened} peers (without the one-time JIT code); ${fixed(perPeerRss)} KiB RSS (runs: ${perPeerRuns.join(", ")}).`,
    "",
    `Torrents (${FILES_PER_TORRENT} files of ${FILE_BYTES / 1024} KiB each, added and checked, seeding, no peers; row 0 is the client before any add):`,
    "",
    table("torrents", loaded, loaded[0] ?? torrentTop),
    "",
    `100 torrents, ${TORRENTS * FILES_PER_TORRENT} files: **${fixed(mib(torrentTop.rss))} MiB RSS** (goal ≤ 300 MiB: ${mib(torrentTop.rss) <= 300 ? "holds" : "does not hold"}).`,
    ""
  ].join("\n")
  if (options.record) appendFileSync(join(benchDir, "RESULTS.md"), `\n${text}`)
  return text
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  // `--snapshots DIR`, the one option of its own (the rest are bench/args.ts's): one peer run
  // that writes heap snapshots at 0 and 500 peers and a sampling heap profile of what the 500
  // connections allocated and kept, nothing else
  const snapshotsAt = args.indexOf("--snapshots")
  const snapshotDir = snapshotsAt >= 0 ? args.splice(snapshotsAt, 2)[1] : undefined
  if (snapshotDir !== undefined) {
    mkdirSync(snapshotDir, { recursive: true })
    await peerRun(await makeTorrents(), snapshotDir)
    process.exit(0)
  }
  const options = parseArgs(args)
  benchScale({ runs: options.runs, record: options.record }).then(
    (text) => console.log(text),
    (error: unknown) => {
      console.error(error)
      process.exit(1)
    }
  )
}
