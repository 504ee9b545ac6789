/**
 * Our side of the interop tests: the client on real sockets and files, payloads, torrent
 * files, byte comparison, and partial copies (pieces zeroed) for multi-source swarms.
 */
import { FetchHttpClient } from "effect/http"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Layer, References, Schedule, Stream, SubscriptionRef } from "effect"
import { cp, open, readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { Client, type ClientConfig, layerNode } from "../../../src/client/index.ts"
import { createTorrent } from "../../../src/metainfo/create.ts"
import { parseMetainfo } from "../../../src/metainfo/index.ts"
import type { Metainfo } from "../../../src/metainfo/model.ts"
import { Network, NodeNetwork } from "../../../src/net/index.ts"
import { FileStorage } from "../../../src/storage/index.ts"
import type { Torrent, TorrentEvent, TorrentState } from "../../../src/torrent/index.ts"
import { sameFile, tempDir, writePayload } from "../../support/files.ts"
import { InteropError } from "./process.ts"
import { eventually } from "../../support/waiting.ts"

/** `INTEROP_DEBUG=1` shows our client's debug logs (peer disconnect reasons and so on). */
const logLevel = process.env["INTEROP_DEBUG"] === "1" ? "Debug" : "Info"

/** The client without trackers or DHT: peers come from `add`'s `peers` and incoming connections. */
export const clientLayer = (downloadDirectory: string, config: Omit<ClientConfig, "trackers" | "dht"> = {}) =>
  Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory, lsd: false, ...config, trackers: false, dht: undefined }).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
  )

/** Runs `body` with a fresh client (listening on 127.0.0.1, ephemeral port), closed afterwards. */
export const withClient = <A, E, R>(
  downloadDirectory: string,
  body: Effect.Effect<A, E, R | Client>,
  config: Omit<ClientConfig, "trackers" | "dht"> = {}
) =>
  body.pipe(
    Effect.provide(clientLayer(downloadDirectory, config), { local: true }),
    Effect.provideService(References.MinimumLogLevel, logLevel)
  )

/** Like `withClient`, on `layerNode`: real sockets, files and HTTP/UDP trackers. */
export const withTrackerClient = <A, E, R>(downloadDirectory: string, body: Effect.Effect<A, E, R | Client>) =>
  withNodeClient(downloadDirectory, body)

/**
 * Like `withClient`, on `layerNode` with `config` on top of 127.0.0.1 and an ephemeral
 * port: the whole client as users get it (trackers, and the DHT when `config.dht` is given).
 */
export const withNodeClient = <A, E, R>(
  downloadDirectory: string,
  body: Effect.Effect<A, E, R | Client>,
  config: ClientConfig = {}
) =>
  body.pipe(
    Effect.provide(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory, ...config }), { local: true }),
    Effect.provideService(References.MinimumLogLevel, logLevel)
  )

/** A TCP port that was free a moment ago on 127.0.0.1 (for clients that need a fixed one). */
export const freePort = Effect.scoped(Effect.gen(function*() {
  const network = yield* Network
  const listener = yield* network.listen({ host: "127.0.0.1", port: 0 })
  const udp = yield* network.udp({ host: "127.0.0.1", port: listener.address.port })
  return udp.address.port
})).pipe(
  Effect.retry({ times: 5 }),
  Effect.mapError((e) => new InteropError({ detail: `no free port: ${e.message}` })),
  Effect.provide(NodeNetwork.layer)
)

/** `count` distinct ports that were free a moment ago (TCP and UDP) on 127.0.0.1. */
export const freePorts = (count: number) =>
  Effect.gen(function*() {
    const ports = new Set<number>()
    for (let tries = 0; ports.size < count && tries < count * 10; tries++) ports.add(yield* freePort)
    if (ports.size < count) return yield* new InteropError({ detail: `only ${ports.size} distinct free ports of ${count}` })
    return [...ports]
  })

export const readTorrent = (path: string) =>
  Effect.gen(function*() {
    const bytes = new Uint8Array(yield* Effect.promise(() => readFile(path)))
    const meta = yield* parseMetainfo(bytes).pipe(
      Effect.mapError((e) => new InteropError({ detail: `${path}: ${e.message}` }))
    )
    return { bytes, meta }
  })

/** A .torrent of `data` made by our own creator, written to `out`. */
export const ourTorrent = (data: string, out: string, pieceLength: number, trackers: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const created = yield* createTorrent(data, { pieceLength, trackers: trackers.map((url) => [url]) }).pipe(
      Effect.provide(NodeFileSystem.layer),
      Effect.mapError((e) => new InteropError({ detail: `createTorrent: ${e.message}` }))
    )
    yield* Effect.promise(() => writeFile(out, created.torrent))
    return created.metainfo
  })

/**
 * Every real file of `meta` under `a` equals its copy under `b`. Fails naming the first
 * that differs. `skipEmpty`: Transmission 3.00 creates files on their first write, so it
 * never creates zero-length ones; only a Transmission leecher's output needs this.
 */
export const assertSameData = (meta: Metainfo, a: string, b: string, options: { readonly skipEmpty?: boolean } = {}) =>
  Effect.gen(function*() {
    for (const file of meta.files) {
      if (file.padding || file.symlinkPath !== undefined) continue
      if (options.skipEmpty === true && file.length === 0) continue
      const path = join(...file.path)
      const same = yield* sameFile(join(a, path), join(b, path)).pipe(
        Effect.catchCause(() => Effect.succeed(false))
      )
      if (!same) return yield* new InteropError({ detail: `${path} differs between ${a} and ${b}` })
    }
  })

/**
 * Copies the payload under `from` to `to`, then zeroes every piece of `meta` for which
 * `keep` is false, so a client that checks the copy holds exactly the kept pieces.
 */
export const partialCopy = (meta: Metainfo, from: string, to: string, keep: (piece: number) => boolean) =>
  Effect.promise(async () => {
    await cp(from, to, { recursive: true })
    for (let piece = 0; piece < meta.pieceCount; piece++) {
      if (keep(piece)) continue
      const start = piece * meta.pieceLength
      const end = Math.min(meta.totalSize, start + meta.pieceLength)
      for (const file of meta.files) {
        const lo = Math.max(start, file.offset)
        const hi = Math.min(end, file.offset + file.length)
        if (lo >= hi || file.padding) continue
        const handle = await open(join(to, ...file.path), "r+")
        try {
          await handle.write(new Uint8Array(hi - lo), 0, hi - lo, lo - file.offset)
        } finally {
          await handle.close()
        }
      }
    }
  })

/** Records every event of `torrent` from now on, until the current scope closes. */
export const recordEvents = (torrent: Torrent) =>
  Effect.gen(function*() {
    const seen: Array<TorrentEvent> = []
    // Subscribed here, before returning, so nothing published afterwards is missed (a stream
    // run in the forked fiber would subscribe only once that fiber runs: PeerConnected events
    // were lost that way on a loaded machine).
    const pull = yield* Stream.toPull(yield* torrent.subscribe)
    yield* Effect.forkScoped(Effect.forever(pull.pipe(Effect.flatMap((batch) => Effect.sync(() => { seen.push(...batch) })))).pipe(Effect.ignore))
    return seen
  })

/**
 * Waits until the recorded events hold what `ok` asks for: the recorder is a fiber of its
 * own, so the last events may still be on their way when the download's completion wakes
 * the test (seen on a loaded machine). A lost event still fails, after `seconds`.
 */
export const eventsUntil = (seen: ReadonlyArray<TorrentEvent>, what: string, ok: (events: ReadonlyArray<TorrentEvent>) => boolean, seconds = 10) =>
  eventually(what, Effect.sync(() => seen), ok, seconds).pipe(Effect.asVoid)

/** Waits for the download with a deadline, failing with the torrent's state when it passes. */
export const awaitComplete = (torrent: Torrent, seconds: number) =>
  torrent.whenComplete.pipe(
    Effect.mapError((e) => new InteropError({ detail: `torrent failed: ${e.message}` })),
    Effect.timeoutOrElse({
      duration: `${seconds} seconds`,
      orElse: () =>
        Effect.gen(function*() {
          const value = yield* SubscriptionRef.get(torrent.state)
          return yield* new InteropError({
            detail: `not complete after ${seconds} s: ${value.piecesVerified}/${value.pieceCount} pieces, ${value.peers} peers, status ${value.status}`
          })
        })
    })
  )
/**
 * The torrent's published state once it satisfies `ok`. The state is republished about
 * once a second, so it may trail `whenComplete` by that much.
 */
export const awaitState = (torrent: Torrent, ok: (state: TorrentState) => boolean, what: string) =>
  SubscriptionRef.changes(torrent.state).pipe(
    Stream.filter(ok),
    Stream.runHead,
    Effect.flatMap((found) => Effect.fromOption(found)),
    Effect.timeoutOrElse({
      duration: "5 seconds",
      orElse: () =>
        Effect.gen(function*() {
          const state = yield* SubscriptionRef.get(torrent.state)
          return yield* new InteropError({ detail: `state never showed ${what}: ${JSON.stringify(state)}` })
        })
    }),
    Effect.catchTag("NoSuchElementError", () => Effect.fail(new InteropError({ detail: `the torrent's state ended before ${what}` })))
  )

/**
 * Adds `torrent` to our client with the complete data (`bytes` of payload) in `dir`; it must
 * come up seeding. Its events are recorded from the start.
 */
export const seedFrom = (dir: string, torrent: Metainfo | Uint8Array, bytes: number) =>
  Effect.gen(function*() {
    const client = yield* Client
    const handle = yield* client.add(torrent, { directory: dir })
    const events = yield* recordEvents(handle)
    yield* awaitState(handle, (s) => s.status === "seeding" && s.verifiedBytes === bytes, `seeding all ${bytes} bytes`)
    if (client.port === null) return yield* Effect.die("our client is not listening")
    return { torrent: handle, events, port: client.port }
  })

/** Our seeder counts at least `bytes` as uploaded (its state is republished every second). */
export const uploadedAll = (handle: Torrent, bytes: number) => awaitState(handle, (s) => s.uploaded >= bytes, `uploaded >= ${bytes}`)

/** Waits until something accepts TCP connections on 127.0.0.1:`port` (the probe is closed at once). */
export const waitForPort = (port: number, what: string) =>
  Effect.gen(function*() {
    const network = yield* Network
    yield* Effect.scoped(network.connect({ host: "127.0.0.1", port }, { timeout: "1 second" })).pipe(
      Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 200 })
    )
  }).pipe(
    Effect.mapError((e) => new InteropError({ detail: `${what} never listened on 127.0.0.1:${port}: ${e.message}` })),
    Effect.provide(NodeNetwork.layer)
  )

/**
 * A fresh temporary work directory: `src` holding `files` (random content), an empty `out`,
 * and the path the test's .torrent should go to.
 */
export const workspace = (files: Record<string, number>, torrentName: string) =>
  Effect.gen(function*() {
    const work = yield* tempDir("et-interop-")
    const src = join(work, "src")
    yield* writePayload(src, files)
    return { work, src, out: join(work, "out"), torrentPath: join(work, `${torrentName}.torrent`) }
  })
