/**
 * The client: the public service that owns the listening socket, the global connection
 * budget and every torrent.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const client = yield* Client
 *   const torrent = yield* client.add({ path: "ubuntu.torrent" })
 *   yield* torrent.whenComplete
 * })
 * program.pipe(Effect.provide(Client.layerNode({ downloadDirectory: "downloads" })))
 * ```
 *
 * Each torrent lives in its own scope, a child of the client's: `remove` closes it
 * (sessions end, a `stopped` announce goes out, files close), and closing the client's
 * layer does the same for all of them.
 */
import { Context, type Duration, Effect, Exit, FileSystem, Layer, Option, Scope } from "effect"
import type { Metainfo } from "../metainfo/model.ts"
import { toHex } from "../bytes.ts"
import { type InfoHash, infoHashOf } from "../ids.ts"
import { fetchMetadata, type MetadataProgress, type PieceLayersProgress } from "../magnet/index.ts"
import { warnWithoutPeers } from "./no-peers.ts"
import { parseMagnet, parseMetainfo, wireInfoHash } from "../metainfo/index.ts"
import { req2 } from "../mse/index.ts"
import { type Address, Network } from "../net/index.ts"
import { makePeerId } from "../wire/index.ts"
import { makeConnectionBudget, openTorrent, type PeerSource, type Torrent } from "../torrent/index.ts"
import { type ClientConfig, resolveConfig } from "./config.ts"
import { ClientError } from "./errors.ts"
import { completeLayers } from "./piece-layers.ts"
import { startTransports } from "./transports.ts"
import { deleteTorrentData, Storage } from "../storage/index.ts"
import { type AdjustableThrottle, both, makeAdjustableThrottle, makeLimiter } from "../ratelimit/index.ts"
import { Dht, dhtPeerSource } from "../dht/index.ts"
import { Tracker } from "../tracker/index.ts"
import { trackerSource } from "./tracker-source.ts"
import { HttpClient } from "effect/http"
import { webSeeds } from "../webseed/index.ts"
import type { TraceTarget } from "../trace/recorder.ts"
import { startLsd } from "./lsd-source.ts"

/**
 * What `add` accepts: a parsed torrent, the bytes of a .torrent, its path, or a magnet link
 * (the info dict is then fetched from peers first, BEP 9).
 */
export type TorrentSource = Metainfo | Uint8Array | { readonly path: string } | { readonly magnet: string }

/** How `Client.add` should treat one torrent: where it goes, which files, which peers, its own limits, progress callbacks. */
export interface AddOptions {
  /** Save into this directory instead of the client's. */
  readonly directory?: string
  /** Indices (Metainfo.files order) of the files to download; default all. */
  readonly select?: ReadonlyArray<number>
  /** Download pieces in order (for streaming); default rarest-first. */
  readonly sequential?: boolean
  /** Peers to dial from the start, besides what trackers return. */
  readonly peers?: ReadonlyArray<Address>
  /** Bytes per second for this torrent (on top of the client's global limits); absent = unlimited. */
  readonly uploadLimit?: number
  readonly downloadLimit?: number
  /** For a magnet link: told how fetching the metadata progresses (before `add` returns). */
  readonly onMetadataProgress?: (progress: MetadataProgress) => Effect.Effect<void>
  /** For a v2 torrent whose piece layers must come from peers: told how fetching them progresses (before `add` returns). */
  readonly onPieceLayersProgress?: (progress: PieceLayersProgress) => Effect.Effect<void>
  /** For a v2 torrent without piece layers whose files are on disk: told how hashing them for their layers goes, in bytes (before `add` returns). */
  readonly onLayerHashProgress?: (hashed: number, total: number) => Effect.Effect<void>
  /** For a magnet link (and a v2 torrent whose piece layers must come from peers): give up fetching them after this long. Default 10 minutes. */
  readonly metadataTimeout?: Duration.Input
  /** Told how the check of existing data progresses (before `add` returns). */
  readonly onCheckProgress?: (checked: number, total: number) => Effect.Effect<void>
  /** Open the torrent paused: nothing is dialled until `resume`. */
  readonly paused?: boolean
  /** Keep the resume record here instead of `<directory>/.effect-torrent` (FileStorage). */
  readonly resumeDirectory?: string
  /** Record what the wire says into this sink (docs/TRACE.md; `openTraceFile` makes one). */
  readonly trace?: TraceTarget
}

/** Bytes per second; null = unlimited. */
export interface RateLimits {
  readonly upload: number | null
  readonly download: number | null
}

/** What the `Client` service offers: add torrents (files, bytes, magnet links), find them, remove them. */
export interface ClientService {
  /** Our peer id (20 bytes). */
  readonly peerId: Uint8Array
  /** The port peers can reach us on, or null when not listening. */
  readonly port: number | null
  readonly add: (source: TorrentSource, options?: AddOptions) => Effect.Effect<Torrent, ClientError>
  /** The torrent with this info-hash (`parseInfoHash` makes one from text). */
  readonly get: (infoHash: InfoHash) => Effect.Effect<Option.Option<Torrent>>
  readonly torrents: Effect.Effect<ReadonlyArray<Torrent>>
  /** Stops the torrent and forgets it; its files stay on disk unless `deleteData`. */
  readonly remove: (infoHash: InfoHash, options?: { readonly deleteData?: boolean }) => Effect.Effect<void, ClientError>
  /** The limits of one torrent (by info-hash), or the global ones (no argument). */
  readonly limits: (infoHash?: InfoHash) => Effect.Effect<RateLimits, ClientError>
  /** Changes limits while torrents run; a field left out keeps its value. */
  readonly setLimits: (limits: { readonly [K in keyof RateLimits]?: RateLimits[K] | undefined }, infoHash?: InfoHash) => Effect.Effect<void, ClientError>
}

const isMagnetSource = (source: TorrentSource): source is { readonly magnet: string } =>
  !(source instanceof Uint8Array) && "magnet" in source

const isMetainfo = (source: TorrentSource): source is Metainfo =>
  !(source instanceof Uint8Array) && "infoBytes" in source

const loadMetainfo = (source: Exclude<TorrentSource, { readonly magnet: string }>) =>
  Effect.gen(function*() {
    if (isMetainfo(source)) return source
    let bytes: Uint8Array
    let label = "torrent"
    if (source instanceof Uint8Array) {
      bytes = source
    } else {
      label = source.path
      const fs = yield* FileSystem.FileSystem
      bytes = yield* fs.readFile(source.path).pipe(
        Effect.mapError((e) => new ClientError({ reason: "Unreadable", detail: `${label}: ${e.message}` }))
      )
    }
    return yield* parseMetainfo(bytes).pipe(
      Effect.mapError((e) => new ClientError({ reason: "BadTorrent", detail: `${label}: ${e.message}` }))
    )
  })

const selection = (meta: Metainfo, select: ReadonlyArray<number> | undefined): ReadonlyArray<boolean> | undefined => {
  if (select === undefined) return undefined
  const chosen = new Set(select)
  return meta.files.map((_, i) => chosen.has(i))
}

/**
 * The services `Client.layer(config)` needs: always a `Network`, a `Storage` and a
 * `FileSystem` (for `add({ path })`); a `Tracker` unless `config.trackers` is `false`; an
 * `HttpClient` (web seeds) unless `config.webSeeds` is `false`; a `Dht` when `config.dht` is given. A config whose type does not say (a plain `ClientConfig`) needs
 * both, so a feature is never turned off by a layer that was forgotten.
 */
export type ClientRequirements<C extends ClientConfig> =
  | Network
  | Storage
  | FileSystem.FileSystem
  | (C extends { readonly trackers: false } ? never : Tracker)
  | (C extends { readonly webSeeds: false } ? never : HttpClient.HttpClient)
  | ("dht" extends keyof C ? [C["dht" & keyof C]] extends [undefined] ? never : Dht : never)

export const makeClient = (config: ClientConfig, extraPeerSources: ReadonlyArray<PeerSource> = []) =>
  Effect.gen(function*() {
    const resolved = resolveConfig(config)
    const peerSources: Array<PeerSource> = [
      ...(resolved.trackers ? [trackerSource(yield* Tracker, resolved.encryption)] : []),
      ...(config.dht === undefined ? [] : [dhtPeerSource(yield* Dht)]),
      ...extraPeerSources
    ]
    const seeds = resolved.webSeeds ? webSeeds(yield* HttpClient.HttpClient) : undefined
    const network = yield* Network
    if (resolved.lsd) peerSources.push(...yield* startLsd(network, resolved.host))
    const storage = yield* Storage
    const fs = yield* FileSystem.FileSystem
    // Torrents live in a scope made before the listener's, so shutdown (reverse order) first
    // stops accepting connections, then closes the torrents: their sessions, announces and files.
    const torrentsScope = yield* Scope.fork(yield* Effect.scope, "sequential")
    const peerId = yield* makePeerId(resolved.peerIdPrefix)
    const budget = makeConnectionBudget(resolved.maxPeers, resolved.maxHalfOpen)
    const limiter = yield* makeLimiter
    const globalLimits = {
      upload: makeAdjustableThrottle(limiter, "global/upload", resolved.uploadLimit),
      download: makeAdjustableThrottle(limiter, "global/download", resolved.downloadLimit)
    }
    interface Entry {
      readonly torrent: Torrent
      readonly scope: Scope.Closeable
      readonly limits: { readonly upload: AdjustableThrottle; readonly download: AdjustableThrottle }
      readonly resumeDirectory: string | undefined
    }
    const torrents = new Map<InfoHash, Entry>()
    // A hybrid is keyed by its SHA-1 name; a peer may dial it by its truncated SHA-256 one (BEP 52).
    const v2Names = new Map<InfoHash, InfoHash>()
    const v2NameOf = (meta: Metainfo) =>
      meta.infoHash !== null && meta.infoHashV2 !== null ? infoHashOf(meta.infoHashV2.subarray(0, 20)) : undefined
    const lookup = (infoHash: InfoHash) => torrents.get(v2Names.get(infoHash) ?? infoHash)?.torrent
    // MSE names a torrent by HASH('req2', info-hash): v1, and v2 truncated to 20 bytes
    const skeys = new Map<string, Uint8Array>()
    const skeysOf = (meta: Metainfo): ReadonlyArray<Uint8Array> => [
      ...(meta.infoHash === null ? [] : [meta.infoHash]),
      ...(meta.infoHashV2 === null ? [] : [meta.infoHashV2.subarray(0, 20)])
    ]
    const incoming = {
      encryption: resolved.encryption,
      findSkey: (req2Hash: Uint8Array) => skeys.get(toHex(req2Hash))
    }

    const { port, dial, memory: transportMemory } = yield* startTransports(resolved, lookup, incoming)

    /** What fetching before a torrent opens (the metadata, piece layers) is given: our identity, transports and sources. */
    const fetchOptions = (options: AddOptions) => ({
      peerId,
      sources: peerSources,
      port: port ?? 0,
      dial,
      encryption: resolved.encryption,
      timeout: options.metadataTimeout ?? "10 minutes"
    })

    /** A magnet link: parse it, then fetch the info dict from the peers our sources find. */
    const fromMagnet = (uri: string, options: AddOptions) =>
      Effect.gen(function*() {
        const magnet = yield* parseMagnet(uri).pipe(
          Effect.mapError((e) => new ClientError({ reason: "BadTorrent", detail: e.message }))
        )
        // The caller's peers (`--peer`) are asked for the metadata too, not only the link's x.pe.
        const peers = [...magnet.peers, ...(options.peers ?? [])]
        const meta = yield* fetchMetadata({ ...magnet, peers }, {
          ...fetchOptions(options),
          ...(options.onMetadataProgress === undefined ? {} : { onProgress: options.onMetadataProgress })
        }).pipe(
          Effect.provideService(Network, network),
          Effect.mapError((e) =>
            new ClientError({ reason: e.reason === "NoPeers" || e.reason === "Timeout" ? "NoMetadata" : "BadTorrent", detail: e.message })
          )
        )
        return { meta, peers }
      })

    const add = Effect.fn("Client.add")(function*(source: TorrentSource, options: AddOptions = {}) {
      const loaded = isMagnetSource(source)
        ? yield* fromMagnet(source.magnet, options)
        : { meta: yield* loadMetainfo(source).pipe(Effect.provideService(FileSystem.FileSystem, fs)), peers: options.peers ?? [] }
      const local = {
        directory: options.directory ?? resolved.downloadDirectory,
        fs,
        ...(options.onLayerHashProgress === undefined ? {} : { onHashed: options.onLayerHashProgress })
      }
      const { meta, peers: initialPeers } = yield* completeLayers(loaded.meta, loaded.peers, network, local, {
        ...fetchOptions(options),
        ...(options.onPieceLayersProgress === undefined ? {} : { onProgress: options.onPieceLayersProgress })
      })
      const key = infoHashOf(wireInfoHash(meta))
      if (torrents.has(key)) return yield* new ClientError({ reason: "Duplicate", detail: `${meta.name} is already added` })
      const scope = yield* Scope.fork(torrentsScope, "sequential")
      const wantedFiles = selection(meta, options.select)
      const limits = {
        upload: makeAdjustableThrottle(limiter, `${key}/upload`, options.uploadLimit ?? null),
        download: makeAdjustableThrottle(limiter, `${key}/download`, options.downloadLimit ?? null)
      }
      const torrent = yield* openTorrent(meta, {
        directory: options.directory ?? resolved.downloadDirectory,
        peerId,
        port: port ?? 0,
        maxPeers: resolved.maxPeersPerTorrent,
        budget,
        dial,
        handshakeTimeoutMillis: resolved.handshakeTimeoutMillis,
        ...(wantedFiles === undefined ? {} : { wantedFiles }),
        sequential: options.sequential ?? false,
        uploadSlots: resolved.uploadSlots,
        session: { ...resolved.session, listenPort: port },
        peerSources,
        ...(seeds === undefined ? {} : { webSeeds: seeds }),
        initialPeers,
        transportMemory,
        encryption: resolved.encryption,
        ...(options.onCheckProgress === undefined ? {} : { onCheckProgress: options.onCheckProgress }),
        uploadThrottle: both(globalLimits.upload, limits.upload),
        downloadThrottle: both(globalLimits.download, limits.download),
        ...(options.paused === true ? { startPaused: true } : {}),
        ...(options.resumeDirectory === undefined ? {} : { resumeDirectory: options.resumeDirectory }),
        ...(options.trace === undefined ? {} : { trace: options.trace })
      }).pipe(
        Scope.provide(scope),
        Effect.provideService(Storage, storage),
        Effect.onError(() => Scope.close(scope, Exit.void)),
        // Opening fails for the torrent's or the disk's sake; it cannot have been removed yet,
        // nor called with a bad argument: either would be a bug here, and stays a defect.
        Effect.catch((e) =>
          e.reason === "Removed" || e.reason === "InvalidArgument"
            ? Effect.die(e)
            : Effect.fail(new ClientError({ reason: e.reason, detail: e.message }))
        )
      )
      torrents.set(key, { torrent, scope, limits, resumeDirectory: options.resumeDirectory })
      const alias = v2NameOf(meta)
      if (alias !== undefined) v2Names.set(alias, key)
      if (resolved.noPeersWarning) {
        yield* Effect.forkIn(warnWithoutPeers(torrent, { trackers: resolved.trackers, dht: config.dht !== undefined, initialPeers: initialPeers.length }), scope)
      }
      for (const skey of skeysOf(meta)) skeys.set(toHex(req2(skey)), skey)
      return torrent
    })

    const remove = (infoHash: InfoHash, options: { readonly deleteData?: boolean } = {}) =>
      Effect.gen(function*() {
        const entry = torrents.get(infoHash)
        if (entry === undefined) return
        torrents.delete(infoHash)
        const alias = v2NameOf(entry.torrent.metainfo)
        if (alias !== undefined) v2Names.delete(alias)
        for (const skey of skeysOf(entry.torrent.metainfo)) skeys.delete(toHex(req2(skey)))
        // Closing the scope waits for in-flight writes and closes the files before they go.
        yield* Scope.close(entry.scope, Exit.void)
        if (options.deleteData !== true) return
        const t = entry.torrent
        yield* deleteTorrentData(t.metainfo, t.directory, entry.resumeDirectory === undefined ? {} : { resumeDirectory: entry.resumeDirectory }).pipe(
          Effect.mapError((e) => new ClientError({ reason: "Storage", detail: e.message }))
        )
      })

    const limitsOf = (infoHash: InfoHash | undefined) =>
      infoHash === undefined
        ? Effect.succeed(globalLimits)
        : Effect.fromNullishOr(torrents.get(infoHash)?.limits).pipe(
          Effect.mapError(() => new ClientError({ reason: "NotFound", detail: `no torrent ${infoHash}` }))
        )

    return Client.of({
      peerId,
      port,
      add,
      get: (infoHash) => Effect.sync(() => Option.fromNullishOr(torrents.get(infoHash)?.torrent)),
      torrents: Effect.sync(() => [...torrents.values()].map((e) => e.torrent)),
      remove,
      limits: (infoHash) => Effect.map(limitsOf(infoHash), (l) => ({ upload: l.upload.rate(), download: l.download.rate() })),
      setLimits: (next, infoHash) =>
        Effect.map(limitsOf(infoHash), (l) => {
          if (next.upload !== undefined) l.upload.setRate(next.upload)
          if (next.download !== undefined) l.download.setRate(next.download)
        })
    })
  })

/**
 * The BitTorrent client as an Effect service: one listening port, a shared connection budget
 * and rate limits, and any number of torrents, each downloading and seeding at once.
 *
 * **When to use**
 *
 * In an Effect program: provide `layerNode(config)` to run on the real machine (sockets,
 * files, trackers, worker-thread hashing; the DHT when `config.dht` is given), or
 * `Client.layer(config)` on layers of your choice, such as the simulated network and
 * in-memory storage. Outside Effect, `createClient` wraps the same client in Promises.
 *
 * **Details**
 *
 * Everything the client starts lives in the layer's scope: closing it (the end of
 * `Effect.provide`) stops every torrent cleanly: `stopped` announces, resume records, files and
 * sockets closed. Failures are typed: `ClientError` from `add`, `TorrentError` from a torrent.
 *
 * **Example**
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Client, layerNode } from "effect-torrent"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client
 *   const torrent = yield* client.add({ magnet: "magnet:?xt=urn:btih:…" })
 *   yield* torrent.whenComplete
 * })
 * Effect.runPromise(program.pipe(Effect.provide(layerNode({ downloadDirectory: "downloads" }))))
 * ```
 */
export class Client extends Context.Service<Client, ClientService>()("effect-torrent/Client") {
  /**
   * The client on the services you provide: a `Network` and a `Storage` (the real ones, as
   * `layerNode` does, or the simulated network and in-memory storage), a `FileSystem`, a
   * `Tracker` unless `config.trackers` is `false`, a `Dht` when `config.dht` is given (see
   * `ClientRequirements`). Fails with `ClientError` "Listen" when the port cannot be bound.
   *
   * **Example**
   *
   * ```ts
   * // no trackers, no DHT: peers come from `add`'s `peers` and incoming connections
   * Client.layer({ port: 0, trackers: false }).pipe(
   *   Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer, NodeFileSystem.layer))
   * ) // Layer<Client, ClientError>
   * ```
   */
  static readonly layer = <const C extends ClientConfig = {}>(
    config?: C,
    peerSources: ReadonlyArray<PeerSource> = []
  ): Layer.Layer<Client, ClientError, ClientRequirements<C>> =>
    // makeClient asks for a Tracker only when config.trackers is not false and for a Dht only
    // when config.dht is given: exactly what ClientRequirements<C> leaves in.
    Layer.effect(Client, makeClient(config ?? {}, peerSources)) as Layer.Layer<Client, ClientError, ClientRequirements<C>>
}
