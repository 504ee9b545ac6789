/**
 * One torrent: its storage, picker, peer sessions, peer sources and published state.
 *
 * Lifetime: everything lives in the scope `openTorrent` runs in. The "active" part
 * (peer sources, the dialler, the choker and every session) runs in one fiber handle, so
 * `pause` ends it and `resume` starts it again; closing the torrent's scope ends all of it,
 * then the storage saves its resume data and closes its files.
 */
import { Clock, Deferred, Effect, FiberHandle, FiberMap, FiberSet, PubSub, Random, Ref, Result, Stream, SubscriptionRef } from "effect"
import { type InfoHash, infoHashOf, type PeerKey } from "../ids.ts"
import type { Connection } from "../net/index.ts"
import { wireInfoHash } from "../metainfo/identity.ts"
import type { Metainfo } from "../metainfo/model.ts"
import { makeRateMeter, type PeerLink, type PeerStats, type TorrentLink } from "../peer/index.ts"
import { makePicker } from "../scheduler/picker.ts"
import { Storage, type TorrentStorage } from "../storage/index.ts"
import { type Framer, type HandshakeHeader, makeReserved, PEX_PREFERS_ENCRYPTION, PEX_UTP } from "../wire/index.ts"
import { runChoker } from "../choker/index.ts"
import type { SwarmHooks, TorrentConfig } from "./config.ts"
import { openFailure, TorrentError } from "./errors.ts"
import { makeBlame, pieceFailed } from "./blame.ts"
import { makePeerBook } from "./peer-book.ts"
import { seededRandom } from "./random.ts"
import type { TorrentEvent, TorrentState, TrackerStatus } from "./state.ts"
import { runPex } from "./pex.ts"
import { acceptIncoming, dialLoop, type IncomingVia, type SwarmDeps } from "./swarm.ts"
import { openTrace, traceRechoke } from "./trace.ts"
import { fileProgress, type FilePriority, makeFileAccess, type TorrentFileHandle } from "./files.ts"
import { makeWebSeedSlots } from "./web-seeds.ts"

/**
 * A handle on one torrent in a client: what `Client.add` returns.
 *
 * **When to use**
 *
 * Follow a download (`state`, a `SubscriptionRef` republished about once a second and on
 * every status change; `events`, one per happening), wait for it (`whenComplete`), steer it
 * (`pause`, `resume`, `addPeers`). Remove it through `Client.remove`.
 *
 * **Example**
 *
 * ```ts
 * const torrent = yield* client.add({ path: "ubuntu.torrent" })
 * yield* Stream.runForEach(SubscriptionRef.changes(torrent.state), (s) => Console.log(`${(s.progress * 100).toFixed(1)}%`)).pipe(
 *   Effect.raceFirst(torrent.whenComplete)
 * )
 * ```
 */
export interface Torrent {
  /** v1 info-hash, hex. */
  readonly infoHash: InfoHash
  readonly metainfo: Metainfo
  readonly state: SubscriptionRef.SubscriptionRef<TorrentState>
  /** Every event from the moment of subscription on. */
  readonly events: Stream.Stream<TorrentEvent>
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** Succeeds once every wanted piece is verified; fails if the torrent hits a storage error. */
  readonly whenComplete: Effect.Effect<void, TorrentError>
  readonly addPeers: (addresses: ReadonlyArray<{ readonly host: string; readonly port: number }>, source?: string) => Effect.Effect<void>
  /** For the client's listener: an incoming connection whose handshake header named this torrent (`via`: through MSE?). */
  readonly acceptIncoming: (conn: Connection, framer: Framer, header: HandshakeHeader, via: IncomingVia) => Effect.Effect<void>
  /** A snapshot of every connected peer's statistics (address, client, rates, bytes, choke state). */
  readonly peers: Effect.Effect<ReadonlyArray<PeerStats>>
  /** Saves resume data now (also done on completion and on close). */
  readonly saveResume: Effect.Effect<void>
  /** The directory the files are saved in. */
  readonly directory: string
  /** Verified pieces, a BEP 3 bitfield (a copy). */
  readonly bitfield: Effect.Effect<Uint8Array>
  /** Verified bytes of each file (Metainfo.files order). */
  readonly fileProgress: Effect.Effect<ReadonlyArray<number>>
  /** One file: its path and length, and a reader of its bytes (see files.ts). */
  readonly file: (index: number) => TorrentFileHandle
  /** Per file: 0 = skip, 1 = normal, 2 = high. */
  readonly priorities: Effect.Effect<ReadonlyArray<FilePriority>>
  /** Changes which files are downloaded and in which order; one entry per file. */
  readonly setPriorities: (priorities: ReadonlyArray<FilePriority>) => Effect.Effect<void, TorrentError>
}

/** Memory for pieces being assembled (per torrent). */
const OPEN_PIECE_BYTES = 16 * 1024 * 1024

const wantedBytesOf = (meta: Metainfo, priorities: ReadonlyArray<FilePriority>): number =>
  meta.files.reduce((sum, f, i) => (f.padding || priorities[i] === 0 ? sum : sum + f.length), 0)

export const openTorrent = Effect.fn("Torrent.open")(function*(meta: Metainfo, config: TorrentConfig) {
  // the truncated SHA-256 for a pure v2 torrent (BEP 52)
  const infoHashBytes = wireInfoHash(meta)
  const infoHash = infoHashOf(infoHashBytes)
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const events = yield* PubSub.sliding<TorrentEvent>(4096)
  let priorities: ReadonlyArray<FilePriority> = meta.files.map((_, i) => (config.wantedFiles?.[i] === false ? 0 : 1))
  let wantedBytes = wantedBytesOf(meta, priorities)
  const trackerStatus = new Map<string, TrackerStatus>()
  const initial: TorrentState = {
    infoHash, name: meta.name, status: "checking", wantedBytes, verifiedBytes: 0, progress: 0,
    pieceCount: meta.pieceCount, piecesVerified: 0, downloaded: 0, uploaded: 0, downloadRate: 0, uploadRate: 0,
    peers: 0, seeds: 0, candidates: 0, eta: null, error: null, trackers: []
  }
  const state = yield* SubscriptionRef.make(initial)

  const storageService = yield* Storage
  // Partial pieces live in memory until verified: bound them by bytes, not count, so small
  // pieces still allow deep pipelines and big ones cannot eat the heap. The storage holds
  // as many again for complete pieces waiting for their hash check and write (the picker
  // does not count those), plus a margin for pieces whose only holders left.
  const maxOpenPieces = Math.max(4, Math.floor(OPEN_PIECE_BYTES / meta.pieceLength))
  const storageLimit = 2 * maxOpenPieces + 8
  const storage: TorrentStorage = yield* storageService.open(meta, {
    directory: config.directory,
    maxPartialPieces: storageLimit,
    maxPartialBytes: storageLimit * meta.pieceLength,
    ...(config.wantedFiles === undefined ? {} : { wanted: config.wantedFiles }),
    ...(config.resumeDirectory === undefined ? {} : { resumeDirectory: config.resumeDirectory }),
    onRecheckProgress: (p) =>
      PubSub.publish(events, { _tag: "CheckProgress", checked: p.checked, total: p.total }).pipe(
        Effect.andThen(config.onCheckProgress === undefined ? Effect.void : config.onCheckProgress(p.checked, p.total))
      )
  }).pipe(Effect.mapError((e) => new TorrentError({ infoHash, reason: openFailure(e.reason), detail: e.message })))

  const have = yield* storage.have
  const picker = makePicker<PeerKey>({
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    totalSize: meta.totalSize,
    have,
    maxOpenPieces,
    sequential: config.sequential
  })
  if (Result.isFailure(picker)) {
    return yield* new TorrentError({ infoHash, reason: "BadTorrent", detail: `bad torrent geometry: ${picker.failure}` })
  }
  const p = picker.success
  if (config.wantedFiles !== undefined) {
    p.setFilePriorities(meta.files, config.wantedFiles.map((w) => (w ? 1 : 0)))
  }

  const complete = yield* Deferred.make<void, TorrentError>()
  let errorMessage: string | null = null
  const links = new Map<string, PeerLink>()
  const webSeedSlots = makeWebSeedSlots()
  const blame = makeBlame<PeerKey>(config.maxStrikes)
  const book = makePeerBook()
  const downloadMeter = makeRateMeter()
  const uploadMeter = makeRateMeter()
  const status = yield* Ref.make<TorrentState["status"]>(p.isComplete() ? "seeding" : "downloading")
  const random = seededRandom(yield* Random.nextInt)
  const activeSessions = yield* Ref.make<FiberMap.FiberMap<string> | null>(null)
  const active = yield* FiberHandle.make<void, never>()
  const torrentScope = yield* Effect.scope
  const backgroundWork = yield* FiberSet.make<void, never>()
  const publish = (event: TorrentEvent) => PubSub.publish(events, event).pipe(Effect.asVoid)
  const trace = openTrace(config.trace, meta, clock)

  const publishState = Effect.gen(function*() {
    const t = now()
    const verifiedBytes = yield* storage.bytesVerified
    const piecesVerified = yield* storage.verifiedCount
    const downloadRate = downloadMeter.rate(t)
    let seeds = 0
    for (const l of links.values()) if (l.stats.isSeed) seeds++
    const remaining = Math.max(0, wantedBytes - verifiedBytes)
    const current = yield* Ref.get(status)
    yield* SubscriptionRef.set(state, {
      infoHash, name: meta.name, status: current, wantedBytes, verifiedBytes,
      progress: wantedBytes === 0 ? 1 : Math.min(1, verifiedBytes / wantedBytes),
      pieceCount: meta.pieceCount, piecesVerified,
      downloaded: downloadMeter.total(), uploaded: uploadMeter.total(),
      downloadRate, uploadRate: uploadMeter.rate(t),
      peers: links.size, seeds, candidates: book.candidates(),
      eta: remaining === 0 || downloadRate <= 0 ? null : Math.round(remaining / downloadRate),
      error: errorMessage, trackers: [...trackerStatus.values()]
    })
  })

  const markComplete = Effect.gen(function*() {
    if (!p.isComplete()) return
    // Selecting more files makes a complete torrent download again, and complete again later.
    const current = yield* Ref.get(status)
    if (current === "downloading") yield* Ref.set(status, "seeding")
    if (Deferred.isDoneUnsafe(complete)) return yield* publishState
    yield* storage.saveResume.pipe(Effect.ignore)
    for (const l of links.values()) l.uploadOnly()
    // State first: whoever wakes on `whenComplete` reads it.
    yield* publishState
    trace?.event(undefined, { type: "complete" })
    yield* publish({ _tag: "Completed" })
    yield* Deferred.succeed(complete, undefined)
    yield* Effect.logDebug(`${meta.name}: complete`)
  })

  const fail = (detail: string) =>
    Effect.gen(function*() {
      // The first storage error stops the torrent; the blocks still in flight may report more.
      if (errorMessage !== null) return
      errorMessage = detail
      yield* Ref.set(status, "error")
      yield* publishState
      trace?.event(undefined, { type: "error", detail })
      yield* publish({ _tag: "Error", message: detail })
      yield* Deferred.fail(complete, new TorrentError({ infoHash, reason: "Storage", detail }))
      // Stop the sessions from outside them: this may run inside one of them.
      yield* FiberHandle.clear(active).pipe(Effect.forkIn(torrentScope))
    })

  /**
   * Bans the peers and ends their sessions. The disconnects come last, in one synchronous
   * step: this often runs inside a banned peer's own session, and ending that session
   * interrupts the very fiber running this.
   */
  const ban = (keys: ReadonlyArray<PeerKey>, reason: string) =>
    Effect.gen(function*() {
      for (const key of keys) {
        book.ban(key)
        trace?.peer(key).event(undefined, { type: "ban", detail: reason })
        yield* publish({ _tag: "PeerBanned", peer: key, reason })
        yield* Effect.logWarning(`banned ${key}: ${reason}`)
      }
      yield* Effect.sync(() => {
        for (const key of keys) links.get(key)?.disconnect("Banned", reason)
        for (const key of keys) webSeedSlots.stop(key)
      })
    })

  const addPeers = (addresses: ReadonlyArray<{ readonly host: string; readonly port: number; readonly flags?: number }>, source = "manual") =>
    Effect.gen(function*() {
      for (const a of addresses) if (((a.flags ?? 0) & PEX_UTP) !== 0) config.transportMemory?.hintUtp(a)
      const known = addresses.map((a) => ((a.flags ?? 0) & PEX_PREFERS_ENCRYPTION) === 0 ? a : { ...a, prefersEncryption: true })
      const added = book.add(known, source, now())
      if (added > 0) yield* publish({ _tag: "PeersDiscovered", source, count: added })
    })

  const link: TorrentLink = {
    infoHash: infoHashBytes, peerId: config.peerId, pieceCount: meta.pieceCount, pieceLength: meta.pieceLength, totalSize: meta.totalSize,
    picker: p,
    storage,
    random,
    uploadThrottle: config.uploadThrottle,
    downloadThrottle: config.downloadThrottle,
    register: (l) => { links.set(l.stats.key, l) },
    unregister: (key) => { links.delete(key) },
    linkOf: (key) => links.get(key),
    wakeAll: () => { for (const l of links.values()) l.wake() },
    onPieceVerified: (piece) => {
      const verified = p.pieceVerified(piece)
      if (trace?.options.pieces === true) trace.event(undefined, { type: "piece-verified", index: piece, from: [...verified.contributors] })
      files.pieceVerified(piece)
      for (const c of verified.cancels) links.get(c.peer)?.cancelRequest(c.block)
      for (const l of links.values()) l.pieceVerified(piece)
      const event: TorrentEvent = { _tag: "PieceVerified", piece }
      // Once per piece: no effect allocated unless the event queue is full or we are done.
      const published = PubSub.publishUnsafe(events, event) ? Effect.void : publish(event)
      return p.isComplete() ? Effect.andThen(published, markComplete) : published
    },
    onPieceFailed: (piece, contributors) =>
      Effect.gen(function*() {
        trace?.event(undefined, { type: "piece-failed", index: piece, from: [...contributors] })
        yield* publish({ _tag: "HashFailed", piece, peers: [...contributors] })
        // Who is to blame: see blame.ts (a lone sender is convicted, shared pieces give strikes).
        const convicted = pieceFailed(blame, contributors)
        for (const l of links.values()) l.wake()
        yield* ban(convicted, `sent data that failed the hash check of piece ${piece}`)
      }),
    onDownloaded: (bytes) => downloadMeter.add(bytes, now()),
    onUploaded: (bytes) => uploadMeter.add(bytes, now()),
    isComplete: () => p.isComplete(),
    metadata: meta.infoBytes,
    learnedListenAddress: (key, address) => book.alias(key, address),
    isPrivate: meta.private,
    addPeers,
    initialUnchoke: () => {
      let unchoked = 0
      for (const l of links.values()) if (!l.stats.amChoking) unchoked++
      return unchoked < config.uploadSlots
    },
    onStorageError: (error) => fail(error instanceof Error ? error.message : String(error)),
    background: (effect) => FiberSet.run(backgroundWork, effect).pipe(Effect.asVoid),
    trace,
    log: (level, message) =>
      level === "debug" ? Effect.logDebug(message) : level === "info" ? Effect.logInfo(message) : Effect.logWarning(message)
  }

  const files = makeFileAccess({
    infoHash,
    meta,
    storage,
    picker: p,
    priorities: () => priorities,
    ensureWanted: (index) => priorities[index] === 0 ? Effect.ignore(setPriorities(priorities.map((x, i) => (i === index ? 1 : x)))) : Effect.void,
    wakeAll: link.wakeAll,
    error: () => errorMessage
  })

  const setPriorities = (next: ReadonlyArray<FilePriority>) =>
    Effect.gen(function*() {
      if (next.length !== meta.files.length) {
        return yield* new TorrentError({ infoHash, reason: "Storage", detail: `expected ${meta.files.length} file priorities, got ${next.length}` })
      }
      const wanted = next.map((x) => x > 0)
      yield* storage.setWanted(wanted).pipe(Effect.mapError((e) => new TorrentError({ infoHash, reason: "Storage", detail: e.message })))
      priorities = [...next]
      wantedBytes = wantedBytesOf(meta, priorities)
      p.setFilePriorities(meta.files, priorities)
      const current = yield* Ref.get(status)
      if (current === "seeding" && !p.isComplete()) yield* Ref.set(status, "downloading")
      files.refocus()
      yield* markComplete
      yield* publishState
    })
  const ours = { infoHash: infoHashBytes, peerId: config.peerId, reserved: makeReserved({ extensionProtocol: true, fast: true }) }
  const deps: SwarmDeps = { config, link, book, ours, events, connected: () => links.size }
  const hooks: SwarmHooks = {
    infoHash: infoHashBytes, peerId: config.peerId, port: config.port, isPrivate: meta.private, trackers: meta.trackers,
    stats: Effect.map(storage.bytesVerified, (verified) => ({
      uploaded: uploadMeter.total(),
      downloaded: downloadMeter.total(),
      left: Math.max(0, wantedBytes - verified)
    })),
    completed: Deferred.await(complete).pipe(Effect.ignore), addPeers,
    reportTracker: (url, ok, peers, message) => Effect.sync(() => { trackerStatus.set(url, { url, ok, peers, message }) }),
    ...(trace === null ? {} : { trace })
  }

  const runActive = Effect.gen(function*() {
    const sessions = yield* FiberMap.make<string>()
    yield* Ref.set(activeSessions, sessions)
    yield* Effect.addFinalizer(() => Ref.set(activeSessions, null))
    for (const source of config.peerSources) yield* source(hooks)
    if (config.webSeeds !== undefined) yield* config.webSeeds(webSeedSlots.host(link, meta, book.isBanned))
    yield* Effect.forkScoped(runChoker({
      peers: Effect.sync(() =>
        [...links.values()].map(({ stats }) => ({
          key: stats.key,
          interested: stats.peerInterested,
          downloadRate: stats.downloadRate,
          uploadRate: stats.uploadRate,
          snubbed: stats.snubbed,
          connectedAt: stats.connectedAt,
          isSeed: stats.isSeed
        }))
      ),
      seeding: Effect.sync(() => p.isComplete()),
      apply: (result) => Effect.sync(() => {
        traceRechoke(trace, result, links.size)
        for (const l of links.values()) l.setChoked(!result.unchoke.has(l.stats.key))
      })
    }, { config: { slots: config.uploadSlots } }))
    if (!meta.private) yield* Effect.forkScoped(runPex(links, (a) => config.transportMemory?.speaksUtp(a) ?? false, book.prefersEncryption))
    yield* Effect.forkScoped(Effect.forever(Effect.sleep("1 second").pipe(Effect.andThen(Effect.sync(() => {
      for (const l of links.values()) l.tick()
    })))))
    yield* dialLoop(deps, sessions)
  }).pipe(Effect.scoped)

  yield* Effect.forkScoped(Effect.forever(publishState.pipe(Effect.andThen(Effect.sleep("1 second")))))
  yield* addPeers(config.initialPeers, "initial")
  yield* markComplete
  if (config.startPaused === true) yield* Ref.set(status, "paused")
  else yield* FiberHandle.run(active, runActive)
  yield* publishState

  const torrent: Torrent = {
    infoHash,
    metainfo: meta,
    state,
    events: Stream.fromPubSub(events),
    pause: Effect.gen(function*() {
      const current = yield* Ref.get(status)
      if (current === "error" || current === "paused") return
      yield* FiberHandle.clear(active)
      yield* Ref.set(status, "paused")
      yield* publishState
    }),
    resume: Effect.gen(function*() {
      if ((yield* Ref.get(status)) !== "paused") return
      yield* Ref.set(status, p.isComplete() ? "seeding" : "downloading")
      yield* FiberHandle.run(active, runActive)
      yield* publishState
    }),
    whenComplete: Deferred.await(complete),
    addPeers,
    acceptIncoming: (conn, framer, header, via) =>
      Effect.flatMap(Ref.get(activeSessions), (sessions) =>
        sessions === null ? conn.close : acceptIncoming(deps, sessions, conn, framer, header, via)),
    saveResume: storage.saveResume.pipe(Effect.ignore),
    peers: Effect.sync(() => [...links.values()].map((l) => ({ ...l.stats }))),
    directory: config.directory,
    bitfield: storage.have,
    fileProgress: Effect.sync(() => fileProgress(meta, storage.hasPiece)),
    file: files.file,
    priorities: Effect.sync(() => priorities),
    setPriorities
  }
  yield* Effect.addFinalizer(() => publishState.pipe(Effect.ignore))
  return torrent
})
