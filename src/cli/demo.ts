/**
 * `effect-torrent demo [--size 32MiB] [--peers 3]`: the client at work with nothing at hand
 * (no torrent, no internet, no other BitTorrent program). It makes a payload of random bytes
 * in a temporary directory, seeds it from a few of our own clients over real TCP on
 * 127.0.0.1, downloads it with the live progress view, checks the copy byte for byte, prints
 * the figures (time, rate, bytes from each peer) and removes the directory.
 */
import { Clock, Console, Context, Effect, Fiber, FileSystem, Layer, Schedule } from "effect"
import { Command, Flag } from "effect/cli"
import { randomFillSync } from "node:crypto"
import { join } from "node:path"
import { Client, layerNode } from "../client/index.ts"
import { createTorrent } from "../metainfo/create.ts"
import { CliInputError, fsError } from "./errors.ts"
import { oneLine } from "./format.ts"
import { outputMode } from "./run-messages.ts"
import { watchProgress } from "./run-torrent.ts"
import { formatBytes, formatRate, parseSize } from "./units.ts"

const MAX_SIZE = 4 * 1024 ** 3
const MAX_PEERS = 16
/** Random data is written in pieces of this size, so a large payload needs no large buffer. */
const CHUNK = 4 * 1024 * 1024

/** The payload: two files in a folder, so the demo shows a multi-file torrent. */
const writePayload = (dir: string, size: number) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    yield* fs.makeDirectory(dir, { recursive: true })
    const first = Math.ceil(size * 0.75)
    for (const [name, length] of [["video.bin", first], ["notes.bin", size - first]] as const) {
      if (length === 0) continue
      yield* Effect.scoped(Effect.gen(function*() {
        const file = yield* fs.open(join(dir, name), { flag: "w" })
        const chunk = new Uint8Array(Math.min(CHUNK, length))
        for (let written = 0; written < length; written += chunk.length) {
          const part = chunk.subarray(0, Math.min(chunk.length, length - written))
          randomFillSync(part)
          yield* file.writeAll(part)
        }
      }))
    }
  })

/** A client on 127.0.0.1 only: no trackers, DHT, LSD or web seeds, so nothing leaves the machine. */
const localClient = (downloadDirectory: string) =>
  Layer.build(Layer.fresh(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory, trackers: false, lsd: false, webSeeds: false }))).pipe(
    Effect.map((context) => Context.get(context, Client))
  )

/** Byte-for-byte comparison of two files, chunk by chunk. */
const sameBytes = (a: string, b: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const [x, y] = [yield* fs.readFile(a), yield* fs.readFile(b)]
    return x.length === y.length && Buffer.from(x.buffer, x.byteOffset, x.length).equals(Buffer.from(y.buffer, y.byteOffset, y.length))
  })

export const demoCommand = Command.make(
  "demo",
  {
    size: Flag.String("size").pipe(Flag.withDescription("how much random data to share, e.g. 16MiB or 1G (default: 32MiB)"), Flag.withDefault("32MiB")),
    peers: Flag.Int("peers").pipe(Flag.withDescription(`how many of our own clients seed it, 1-${MAX_PEERS} (default: 3)`), Flag.withDefault(3))
  },
  (args) => Effect.scoped(Effect.gen(function*() {
    const size = parseSize(args.size)
    if (size === undefined || size < 1 || size > MAX_SIZE) {
      return yield* new CliInputError({ subject: "--size", detail: `expected a size from 1B to 4GiB like 64MiB, got ${JSON.stringify(args.size)}` })
    }
    if (args.peers < 1 || args.peers > MAX_PEERS) return yield* new CliInputError({ subject: "--peers", detail: `must be between 1 and ${MAX_PEERS}` })
    const fs = yield* FileSystem.FileSystem
    // Removed when the command ends, however it ends (Ctrl-C included).
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "effect-torrent-demo-" }).pipe(Effect.mapError(fsError("temporary directory")))
    yield* Console.error(`demo: ${formatBytes(size)} of random data in ${dir}, seeded by ${args.peers} of our own peers on 127.0.0.1`)
    yield* writePayload(join(dir, "seed", "demo"), size).pipe(Effect.mapError(fsError(dir)))
    const { metainfo } = yield* createTorrent(join(dir, "seed", "demo"), {}).pipe(
      Effect.mapError((e) => new CliInputError({ subject: dir, detail: e.message }))
    )

    const seeders = yield* Effect.forEach(
      Array.from({ length: args.peers }, (_, i) => i),
      (i) =>
        Effect.gen(function*() {
          const client = yield* localClient(join(dir, "seed"))
          // Each seeder keeps its resume record apart: they share the one copy of the data.
          const torrent = yield* client.add(metainfo, { resumeDirectory: join(dir, `resume-${i}`) })
          yield* torrent.whenComplete
          return { port: client.port ?? 0 }
        }),
      { concurrency: "unbounded" }
    )
    yield* Console.error(`seeders ready on ${seeders.map((s) => `127.0.0.1:${s.port}`).join(", ")}; downloading`)

    const leecher = yield* localClient(join(dir, "out"))
    const started = yield* Clock.currentTimeMillis
    const torrent = yield* leecher.add(metainfo, { peers: seeders.map((s) => ({ host: "127.0.0.1", port: s.port })) })
    const mode = outputMode(false)
    const watcher = yield* Effect.forkChild(watchProgress(torrent, mode))
    // Bytes from each peer, sampled while it runs: a seed may close its connection to us as
    // soon as we are a seed too, taking its counters with it.
    const fromPeer = new Map<string, { downloaded: number; transport: string }>()
    const sample = torrent.peers.pipe(Effect.map((peers) => {
      for (const p of peers) fromPeer.set(p.key, { downloaded: Math.max(p.downloaded, fromPeer.get(p.key)?.downloaded ?? 0), transport: p.transport })
    }))
    const sampler = yield* Effect.forkChild(Effect.repeat(sample, Schedule.spaced("200 millis")))
    yield* torrent.whenComplete
    const seconds = ((yield* Clock.currentTimeMillis) - started) / 1000
    yield* sample
    yield* Fiber.interrupt(sampler)
    yield* Fiber.interrupt(watcher)
    if (mode === "tty") yield* Console.error("")

    const files = metainfo.files.filter((f) => !f.padding)
    for (const f of files) {
      const same = yield* sameBytes(join(dir, "seed", ...f.path), join(dir, "out", ...f.path)).pipe(Effect.mapError(fsError(dir)))
      if (!same) return yield* new CliInputError({ subject: "demo", detail: `${f.path.join("/")}: the copy differs from the original` })
    }
    yield* Console.log([
      `${oneLine(metainfo.name)}: ${formatBytes(size)} in ${files.length} files, ${metainfo.pieceCount} pieces, every one verified (SHA-1) and the copy identical byte for byte`,
      `time ${seconds.toFixed(2)} s, ${formatRate(size / Math.max(seconds, 0.001))}`,
      ...[...fromPeer].map(([key, p]) => `  from ${key}: ${formatBytes(p.downloaded)}${p.transport === "tcp" ? "" : ` over ${p.transport}`}`),
      `removing ${dir}`
    ].join("\n"))
  }))
).pipe(Command.withDescription("see it work: seed random data from a few local peers and download it (no internet needed)"))
