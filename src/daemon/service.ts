/**
 * The daemon: the client's torrents kept in a state directory, so they outlive the process.
 *
 * Every change (add, pause, priorities, limits, remove) goes to the state store before it
 * is acknowledged; on start every stored torrent is added back with its settings, and its
 * resume record (kept in the state directory) spares complete torrents a re-check. Magnet
 * links fetch their metadata in the background: they are listed meanwhile as `metadata`
 * with the fetch's progress. A v2 torrent (or hybrid) whose piece layers must come from
 * peers fetches them in the background too, listed as `pieceLayers`: an add or a restart
 * does not wait for a swarm. A pause stops either fetch (fetches.ts).
 */
import { Clock, Context, Effect, FiberMap, Layer, type Option, PubSub, Stream } from "effect"
import { HttpClient } from "effect/http"
import { Client, type ClientError } from "../client/index.ts"
import { toHex } from "../bytes.ts"
import { parseInfoHash } from "../ids.ts"
import { missingPieceLayers } from "../magnet/index.ts"
import { parseMagnet, parseMetainfo, toTorrentFile, wireInfoHash } from "../metainfo/index.ts"
import type { Metainfo } from "../metainfo/model.ts"
import type { FilePriority, Torrent } from "../torrent/index.ts"
import { DaemonError } from "./errors.ts"
import { makeFetches } from "./fetches.ts"
import type { StateStore, TorrentRecord } from "./state-store.ts"
import { makeTraces } from "./traces.ts"
import type { Entry } from "./views.ts"

/** The largest .torrent accepted from an upload or a URL. */
export const MAX_TORRENT_BYTES = 16 * 1024 * 1024

export type AddSource =
  | { readonly _tag: "Torrent"; readonly bytes: Uint8Array }
  | { readonly _tag: "Magnet"; readonly uri: string }
  | { readonly _tag: "Url"; readonly url: string }

export interface AddInput {
  readonly source: AddSource
  readonly paused?: boolean
  readonly directory?: string
  /** Indices of the files to download. */
  readonly files?: ReadonlyArray<number>
  /** Trace what the wire says into the state directory (see `setTrace`). */
  readonly trace?: boolean
}

export interface DaemonService {
  readonly downloadDirectory: string
  readonly entries: Effect.Effect<ReadonlyArray<Entry>>
  readonly entry: (infoHash: string) => Effect.Effect<Entry, DaemonError>
  /** The running torrent; fails NotFound for an unknown or pending one. */
  readonly torrent: (infoHash: string) => Effect.Effect<Torrent, DaemonError>
  readonly add: (input: AddInput) => Effect.Effect<Entry, DaemonError>
  readonly pause: (infoHash: string) => Effect.Effect<void, DaemonError>
  readonly resume: (infoHash: string) => Effect.Effect<void, DaemonError>
  readonly remove: (infoHash: string, deleteData: boolean) => Effect.Effect<void, DaemonError>
  /** Forgets the resume record and checks the data again, piece by piece. */
  readonly verify: (infoHash: string) => Effect.Effect<void, DaemonError>
  readonly setPriorities: (infoHash: string, priorities: ReadonlyArray<FilePriority>) => Effect.Effect<void, DaemonError>
  readonly setLimits: (limits: { readonly upload?: number | null | undefined; readonly download?: number | null | undefined }, infoHash?: string) => Effect.Effect<void, DaemonError>
  readonly limits: Effect.Effect<{ readonly upload: number | null; readonly download: number | null }>
  /**
   * Turns the torrent's trace on or off (`<state>/traces/<infoHash>.jsonl`, docs/TRACE.md). A
   * running torrent is closed and opened again to switch: its resume record spares a re-check.
   */
  readonly setTrace: (infoHash: string, enabled: boolean) => Effect.Effect<void, DaemonError>
  /** The torrent's trace file as written so far; none before its switch was first on. */
  readonly trace: (infoHash: string) => Effect.Effect<Option.Option<{ readonly size: number; readonly bytes: Stream.Stream<Uint8Array> }>, DaemonError>
  /** Something changed (a torrent came, went, or changed settings): for the event stream. */
  readonly changes: Stream.Stream<void>
}

export class Daemon extends Context.Service<Daemon, DaemonService>()("effect-torrent/Daemon") {}

const fromClient = (e: ClientError) => new DaemonError({ reason: e.reason === "NotFound" ? "NotFound" : "Client", detail: e.message })
const notFound = (infoHash: string) => new DaemonError({ reason: "NotFound", detail: `no torrent ${infoHash}` })
/** A record's info-hash as the client names torrents (records hold validated hex). */
const clientKey = (infoHash: string) => Effect.fromNullishOr(parseInfoHash(infoHash)).pipe(Effect.mapError(() => notFound(infoHash)))
/** Whether opening `meta` may wait on peers for piece layers (then it opens in the background). */
const awaitsPieceLayers = (meta: Metainfo) => meta.version !== "v1" && missingPieceLayers(meta).length > 0

export interface DaemonConfig {
  readonly downloadDirectory: string
}

export const makeDaemon = Effect.fn("Daemon.make")(function*(config: DaemonConfig, store: StateStore) {
  const client = yield* Client
  const http = yield* HttpClient.HttpClient
  const entries = new Map<string, Entry>()
  const background = yield* FiberMap.make<string>()
  const changed = yield* PubSub.sliding<void>(16)
  const notify = PubSub.publish(changed, undefined).pipe(Effect.asVoid)
  const loaded = yield* store.load
  let settings = loaded.settings
  yield* client.setLimits({ upload: settings.uploadLimit, download: settings.downloadLimit }).pipe(Effect.ignore)

  const save = (record: TorrentRecord, torrent?: Uint8Array) => store.saveTorrent(record, torrent)
  const traces = yield* makeTraces(store.root)
  /** The `trace` option of `client.add` for a record: its file opened when the switch is on. */
  const traceOption = (r: TorrentRecord) =>
    r.trace === true ? Effect.map(traces.open(r.infoHash), (trace) => ({ trace })) : Effect.succeed({})

  /** The phase a pending entry is in, told by `client.add`'s callbacks; a change is announced. */
  const enter = (entry: Entry, pending: NonNullable<Entry["pending"]>, fetch: Entry["fetch"]) =>
    Effect.suspend(() => {
      const same = entry.pending === pending && JSON.stringify(entry.fetch) === JSON.stringify(fetch)
      entry.pending = pending
      entry.fetch = fetch
      return same ? Effect.void : notify
    })
  /** `client.add` options that keep the entry's phase (metadata, piece layers, check) current. */
  const phaseCallbacks = (entry: Entry) => ({
    onMetadataProgress: (p: { readonly peers: number; readonly received: number; readonly total: number }) =>
      enter(entry, "metadata", { peers: p.peers, done: p.received, total: p.total }),
    onPieceLayersProgress: (p: { readonly peers: number; readonly files: number; readonly total: number }) =>
      enter(entry, "pieceLayers", { peers: p.peers, done: p.files, total: p.total }),
    onCheckProgress: () => enter(entry, "checking", null)
  })

  const openTorrent = (entry: Entry, source: Metainfo | Uint8Array, options: { readonly recheck?: boolean } = {}) =>
    Effect.gen(function*() {
      const r = entry.record
      const torrent = yield* client.add(source, {
        ...(yield* traceOption(r)),
        ...phaseCallbacks(entry),
        directory: r.directory,
        resumeDirectory: store.resumeDirectory,
        paused: r.paused,
        ...(r.uploadLimit === null ? {} : { uploadLimit: r.uploadLimit }),
        ...(r.downloadLimit === null ? {} : { downloadLimit: r.downloadLimit }),
        ...(r.priorities === undefined ? {} : { select: r.priorities.flatMap((p, i) => (p > 0 ? [i] : [])) })
      }).pipe(Effect.mapError(fromClient), Effect.onError(() => traces.close(r.infoHash)))
      if (r.priorities !== undefined && r.priorities.some((p) => p === 2)) yield* Effect.ignore(torrent.setPriorities(r.priorities))
      entry.torrent = torrent
      entry.pending = null
      entry.fetch = null
      entry.error = null
      if (options.recheck !== true) yield* notify
      return torrent
    })

  const fetches = makeFetches(background, (hash) => Effect.ignore(Effect.flatMap(clientKey(hash), (key) => client.remove(key))))

  /** Ends a background step on `entry`: its failure stays on the entry, and either way the change is announced. */
  const settled = (entry: Entry) => <A, E extends { readonly message: string }>(step: Effect.Effect<A, E>): Effect.Effect<void> =>
    step.pipe(
      Effect.catch((e) => Effect.sync(() => { entry.error = e.message })),
      Effect.andThen(notify)
    )

  /** A magnet's metadata, fetched in the background; then the torrent joins the state for real. */
  const fetchMagnet = (entry: Entry, uri: string) =>
    Effect.gen(function*() {
      const torrent = yield* client.add({ magnet: uri }, {
        ...(yield* traceOption(entry.record)),
        ...phaseCallbacks(entry),
        directory: entry.record.directory,
        resumeDirectory: store.resumeDirectory,
        paused: entry.record.paused
      }).pipe(Effect.mapError(fromClient), Effect.onError(() => traces.close(entry.record.infoHash)))
      // a pause or limits set while the metadata was fetched are on the record only: apply them now
      const r = entry.record
      if (r.paused) yield* torrent.pause
      if (r.uploadLimit !== null || r.downloadLimit !== null) {
        yield* client.setLimits({ upload: r.uploadLimit, download: r.downloadLimit }, torrent.infoHash).pipe(Effect.ignore)
      }
      const meta = torrent.metainfo
      entry.record = { ...entry.record, name: meta.name, priorities: meta.files.map(() => 1 as const) }
      yield* save(entry.record, toTorrentFile(meta))
      entry.torrent = torrent
      entry.pending = null
      entry.fetch = null
      yield* notify
    }).pipe(settled(entry))

  /** Opens in the background, the entry listed meanwhile; a failure stays on the entry. */
  const opening = (entry: Entry, meta: Metainfo) => openTorrent(entry, meta).pipe(settled(entry))
  const openInBackground = (entry: Entry, meta: Metainfo) => FiberMap.run(background, entry.record.infoHash, opening(entry, meta))
  /**
   * A v2 torrent whose piece layers come from peers (or from hashing its data): opened in the
   * background, a fetch a pause stops. The layers it got are stored in its .torrent (BEP 52
   * `piece layers`), so a restart opens it without fetching or hashing them again.
   */
  const fetchLayers = (entry: Entry, meta: Metainfo) =>
    fetches.start(entry, "pieceLayers", openTorrent(entry, meta).pipe(
      // unsaved, the layers only cost a fetch again after a restart: the torrent runs anyway
      Effect.tap((torrent) =>
        torrent.metainfo.pieceLayers.size > meta.pieceLayers.size && entries.get(entry.record.infoHash) === entry
          ? Effect.ignore(save(entry.record, toTorrentFile(torrent.metainfo)))
          : Effect.void
      ),
      settled(entry)
    ))

  // Back from the state directory, in id order.
  for (const stored of loaded.torrents) {
    const entry: Entry = { record: stored.record, torrent: null, pending: stored.torrent === null ? "metadata" : "checking", fetch: null, error: null }
    entries.set(stored.record.infoHash, entry)
    const meta = stored.torrent === null ? undefined : yield* Effect.option(parseMetainfo(stored.torrent))
    if (meta?._tag === "Some" && awaitsPieceLayers(meta.value)) {
      yield* fetchLayers(entry, meta.value)
    } else if (stored.torrent !== null) {
      yield* openTorrent(entry, stored.torrent).pipe(
        Effect.catch((e) => Effect.sync(() => { entry.error = e.message }))
      )
    } else if (stored.record.magnet !== undefined) {
      yield* fetches.start(entry, "metadata", fetchMagnet(entry, stored.record.magnet))
    }
  }

  const entry = (infoHash: string) =>
    Effect.fromNullishOr(entries.get(infoHash.toLowerCase())).pipe(Effect.mapError(() => notFound(infoHash)))

  const torrentOf = (infoHash: string) =>
    Effect.flatMap(entry(infoHash), (e) => e.torrent === null ? Effect.fail(notFound(infoHash)) : Effect.succeed(e.torrent))

  const nextId = Effect.gen(function*() {
    const id = settings.nextId
    settings = { ...settings, nextId: id + 1 }
    yield* store.saveSettings(settings)
    return id
  })

  const fetchUrl = (url: string) =>
    Effect.gen(function*() {
      if (!/^https?:\/\//i.test(url)) return yield* new DaemonError({ reason: "BadRequest", detail: `not an http(s) URL: ${url}` })
      const response = yield* HttpClient.filterStatusOk(http).get(url).pipe(
        Effect.mapError((e) => new DaemonError({ reason: "BadRequest", detail: `fetching ${url}: ${e.message}` }))
      )
      const length = Number(response.headers["content-length"] ?? 0)
      if (length > MAX_TORRENT_BYTES) return yield* new DaemonError({ reason: "BadRequest", detail: `${url} is larger than ${MAX_TORRENT_BYTES} bytes` })
      const body = yield* response.stream.pipe(
        Stream.runFoldEffect(() => [] as Array<Uint8Array>, (acc, chunk) => {
          acc.push(chunk)
          return acc.reduce((n, c) => n + c.length, 0) > MAX_TORRENT_BYTES
            ? Effect.fail(new DaemonError({ reason: "BadRequest", detail: `${url} is larger than ${MAX_TORRENT_BYTES} bytes` }))
            : Effect.succeed(acc)
        }),
        Effect.mapError((e) => e instanceof DaemonError ? e : new DaemonError({ reason: "BadRequest", detail: `fetching ${url}: ${e.message}` }))
      )
      return new Uint8Array(Buffer.concat(body))
    })

  const add = Effect.fn("Daemon.add")(function*(input: AddInput) {
    const now = yield* Clock.currentTimeMillis
    const directory = input.directory ?? config.downloadDirectory
    const base = {
      paused: input.paused ?? false,
      directory,
      addedAt: now,
      uploadLimit: null,
      downloadLimit: null,
      ...(input.trace === true ? { trace: true } : {})
    }
    if (input.source._tag === "Magnet") {
      const uri = input.source.uri
      const magnet = yield* parseMagnet(uri).pipe(Effect.mapError((e) => new DaemonError({ reason: "BadRequest", detail: e.message })))
      if (magnet.infoHash === null) return yield* new DaemonError({ reason: "BadRequest", detail: "only magnet links with a v1 info-hash (btih) are supported" })
      const infoHash = toHex(magnet.infoHash)
      if (entries.has(infoHash)) return yield* new DaemonError({ reason: "Duplicate", detail: `${infoHash} is already added`, infoHash })
      const record: TorrentRecord = { ...base, infoHash, id: yield* nextId, name: magnet.name ?? infoHash, magnet: uri }
      const e: Entry = { record, torrent: null, pending: "metadata", fetch: null, error: null }
      entries.set(infoHash, e)
      yield* save(record)
      yield* fetches.start(e, "metadata", fetchMagnet(e, uri))
      yield* notify
      return e
    }
    const bytes = input.source._tag === "Url" ? yield* fetchUrl(input.source.url) : input.source.bytes
    const meta = yield* parseMetainfo(bytes).pipe(Effect.mapError((e) => new DaemonError({ reason: "BadRequest", detail: e.message })))
    const infoHash = toHex(wireInfoHash(meta))
    if (entries.has(infoHash)) return yield* new DaemonError({ reason: "Duplicate", detail: `${meta.name} is already added`, infoHash })
    const chosen = input.files === undefined ? undefined : new Set(input.files)
    const priorities = meta.files.map((_, i) => (chosen === undefined || chosen.has(i) ? 1 : 0) as FilePriority)
    const record: TorrentRecord = { ...base, infoHash, id: yield* nextId, name: meta.name, priorities }
    const e: Entry = { record, torrent: null, pending: "checking", fetch: null, error: null }
    entries.set(infoHash, e)
    yield* save(record, bytes).pipe(Effect.onError(() => Effect.sync(() => entries.delete(infoHash))))
    if (awaitsPieceLayers(meta)) {
      // the fetch may take minutes (or never end without peers): the caller gets the entry now
      yield* fetchLayers(e, meta)
      yield* notify
      return e
    }
    yield* openTorrent(e, meta).pipe(
      Effect.onError(() => Effect.andThen(Effect.sync(() => entries.delete(infoHash)), Effect.ignore(store.removeTorrent(infoHash))))
    )
    return e
  })

  const update = (e: Entry, patch: Partial<TorrentRecord>) =>
    Effect.gen(function*() {
      e.record = { ...e.record, ...patch }
      yield* save(e.record)
      yield* notify
    })

  const daemon: DaemonService = {
    downloadDirectory: config.downloadDirectory,
    entries: Effect.sync(() => [...entries.values()]),
    entry,
    torrent: torrentOf,
    add,
    pause: (infoHash) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        yield* update(e, { paused: true })
        if (yield* fetches.stop(e)) yield* notify
        if (e.torrent !== null) yield* e.torrent.pause
      }),
    resume: (infoHash) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        yield* update(e, { paused: false })
        if (e.torrent !== null) return yield* e.torrent.resume
        // a fetch that failed (no peers in time) is tried again too
        if (yield* fetches.restart(e)) yield* notify
      }),
    remove: (infoHash, deleteData) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        const hash = e.record.infoHash
        // Out of the state first: a crash from here on cannot bring it back.
        yield* store.removeTorrent(hash)
        entries.delete(hash)
        fetches.forget(hash)
        yield* FiberMap.remove(background, hash)
        yield* client.remove(yield* clientKey(hash), { deleteData }).pipe(Effect.mapError(fromClient))
        yield* traces.close(hash)
        yield* notify
      }),
    verify: (infoHash) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        const torrent = e.torrent
        if (torrent === null) return
        e.torrent = null
        e.pending = "checking"
        yield* client.remove(yield* clientKey(e.record.infoHash)).pipe(Effect.mapError(fromClient))
        yield* store.removeResume(e.record.infoHash)
        yield* notify
        yield* openInBackground(e, torrent.metainfo)
      }),
    setTrace: (infoHash, enabled) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        const hash = e.record.infoHash
        if ((e.record.trace ?? false) === enabled) return
        yield* update(e, { trace: enabled })
        const torrent = e.torrent
        // a magnet still fetching its metadata keeps the setting it started with until then
        if (torrent === null) return
        e.torrent = null
        e.pending = "checking"
        yield* client.remove(yield* clientKey(hash)).pipe(Effect.mapError(fromClient))
        yield* traces.close(hash)
        yield* openTorrent(e, torrent.metainfo).pipe(
          Effect.tapError((err) => Effect.sync(() => { e.error = err.message })),
          Effect.ensuring(notify)
        )
      }),
    trace: (infoHash) => Effect.flatMap(entry(infoHash), (e) => traces.read(e.record.infoHash)),
    setPriorities: (infoHash, priorities) =>
      Effect.gen(function*() {
        const e = yield* entry(infoHash)
        if (e.torrent === null) return yield* notFound(infoHash)
        yield* e.torrent.setPriorities(priorities).pipe(Effect.mapError((err) => new DaemonError({ reason: "BadRequest", detail: err.message })))
        yield* update(e, { priorities: [...priorities] })
      }),
    setLimits: (limits, infoHash) =>
      Effect.gen(function*() {
        if (infoHash === undefined) {
          yield* client.setLimits(limits).pipe(Effect.mapError(fromClient))
          settings = {
            ...settings,
            ...(limits.upload === undefined ? {} : { uploadLimit: limits.upload }),
            ...(limits.download === undefined ? {} : { downloadLimit: limits.download })
          }
          yield* store.saveSettings(settings)
          return yield* notify
        }
        const e = yield* entry(infoHash)
        if (e.torrent !== null) yield* client.setLimits(limits, e.torrent.infoHash).pipe(Effect.mapError(fromClient))
        yield* update(e, {
          ...(limits.upload === undefined ? {} : { uploadLimit: limits.upload }),
          ...(limits.download === undefined ? {} : { downloadLimit: limits.download })
        })
      }),
    limits: Effect.sync(() => ({ upload: settings.uploadLimit, download: settings.downloadLimit })),
    changes: Stream.fromPubSub(changed)
  }
  return daemon
})

/** The daemon over a `Client` (provided by the caller) and a state directory. */
export const layer = (config: DaemonConfig, store: StateStore) => Layer.effect(Daemon, makeDaemon(config, store))
