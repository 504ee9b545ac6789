/**
 * One torrent: its storage, picker, peer sessions, peer sources and published state.
 *
 * This file wires the parts (core.ts lists them). Lifetime: everything lives in the scope `openTorrent` runs in. The "active" part
 * (peer sources, the dialler, the choker and every session) runs in one fiber handle, so
 * `pause` ends it and `resume` starts it again; closing the torrent's scope ends all of it,
 * then the storage saves its resume data and closes its files.
 */
import { Clock, Deferred, Effect, FiberHandle, FiberMap, FiberSet, PubSub, Random, Ref, Result, Schedule, type Scope, Semaphore, Stream, SubscriptionRef } from "effect"
import { bytesEqual } from "../bytes.ts"
import { type InfoHash, infoHashOf, type PeerKey } from "../ids.ts"
import type { Connection } from "../net/index.ts"
import { wireInfoHash, wireInfoHashes } from "../metainfo/identity.ts"
import type { Metainfo } from "../metainfo/model.ts"
import { makeRateMeter, type PeerStats } from "../peer/index.ts"
import { makePicker } from "../scheduler/picker.ts"
import { Storage, type TorrentStorage } from "../storage/index.ts"
import { type Framer, type HandshakeHeader, makeReserved, PEX_PREFERS_ENCRYPTION, PEX_UTP } from "../wire/index.ts"
import { runActive } from "./active.ts"
import type { SwarmHooks, TorrentConfig } from "./config.ts"
import { type TorrentCore, wakeAll, wantedBytesOf } from "./core.ts"
import { openFailure, TorrentError } from "./errors.ts"
import { makeSmartBan } from "./smart-ban.ts"
import { makePeerBook } from "./peer-book.ts"
import { failStorage, markComplete, publish, publishState } from "./progress.ts"
import { seededRandom } from "./random.ts"
import type { TorrentEvent, TorrentState, TorrentStatus } from "./state.ts"
import { makeDialWake } from "./dialler.ts"
import { acceptIncoming, type IncomingVia, type SwarmDeps } from "./swarm.ts"
import { openTrace } from "./trace.ts"
import { fileProgress, type FilePriority, makeFileAccess, type TorrentFileHandle } from "./files.ts"
import { makeTorrentLink } from "./torrent-link.ts"
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
  /**
   * Every event from the moment the stream starts running. Running it in another fiber (a
   * forked consumer) subscribes only when that fiber gets to run: to miss nothing from a
   * point on, take `subscribe` there instead.
   */
  readonly events: Stream.Stream<TorrentEvent>
  /**
   * Subscribes now, in the caller's fiber and scope, and returns the stream of every event
   * from this moment on (a consumer forked afterwards misses nothing).
   */
  readonly subscribe: Effect.Effect<Stream.Stream<TorrentEvent>, never, Scope.Scope>
  readonly pause: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** Succeeds once every wanted piece is verified; fails if the torrent hits a storage error. */
  readonly whenComplete: Effect.Effect<void, TorrentError>
  readonly addPeers: (addresses: ReadonlyArray<{ readonly host: string; readonly port: number }>, source?: string) => Effect.Effect<void>
  /** For the client's listener: an incoming connection whose handshake header named this torrent (`via`: through MSE?); the torrent owns it from then on and closes it. */
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

/** How often the published state is refreshed (rates move even when nothing else happens). */
const STATE_INTERVAL = "1 second"

export const openTorrent = Effect.fn("Torrent.open")(function*(meta: Metainfo, config: TorrentConfig) {
  // the truncated SHA-256 for a pure v2 torrent (BEP 52)
  const infoHashBytes = wireInfoHash(meta)
  const infoHash = infoHashOf(infoHashBytes)
  const clock = yield* Clock.Clock
  const events = yield* PubSub.sliding<TorrentEvent>(4096)
  const priorities: ReadonlyArray<FilePriority> = meta.files.map((_, i) => (config.wantedFiles?.[i] === false ? 0 : 1))
  const wantedBytes = wantedBytesOf(meta, priorities)
  const state = yield* SubscriptionRef.make<TorrentState>({
    infoHash, name: meta.name, status: "checking", wantedBytes, verifiedBytes: 0, progress: 0,
    pieceCount: meta.pieceCount, piecesVerified: 0, downloaded: 0, uploaded: 0, downloadRate: 0, uploadRate: 0,
    peers: 0, seeds: 0, candidates: 0, eta: null, error: null, trackers: []
  })

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

  const core: TorrentCore = {
    meta, infoHash, infoHashBytes, config, storage, picker: p,
    links: new Map(),
    book: makePeerBook(),
    smartBan: makeSmartBan<PeerKey>(),
    webSeedSlots: makeWebSeedSlots(),
    events,
    state,
    status: yield* Ref.make<TorrentStatus>(p.isComplete() ? "seeding" : "downloading"),
    complete: yield* Deferred.make<void, TorrentError>(),
    downloadMeter: makeRateMeter(),
    uploadMeter: makeRateMeter(),
    trackerStatus: new Map(),
    trace: openTrace(config.trace, meta, clock),
    now: () => clock.currentTimeMillisUnsafe(),
    priorities,
    wantedBytes,
    errorMessage: null
  }
  const { links, book, status } = core
  const wake = makeDialWake()
  const activeSessions = yield* Ref.make<FiberMap.FiberMap<string> | null>(null)
  const active = yield* FiberHandle.make<void, never>()
  const torrentScope = yield* Effect.scope
  const backgroundWork = yield* FiberSet.make<void, never>()

  const addPeers = (addresses: ReadonlyArray<{ readonly host: string; readonly port: number; readonly flags?: number }>, source = "manual") =>
    Effect.gen(function*() {
      for (const a of addresses) if (((a.flags ?? 0) & PEX_UTP) !== 0) config.transportMemory?.hintUtp(a)
      const known = addresses.map((a) => ((a.flags ?? 0) & PEX_PREFERS_ENCRYPTION) === 0 ? a : { ...a, prefersEncryption: true })
      const added = book.add(known, source, core.now())
      // (even none new: a re-announced address the book had given up on is due again)
      wake.notify()
      if (added > 0) yield* publish(core, { _tag: "PeersDiscovered", source, count: added })
    })

  const link = makeTorrentLink(core, {
    random: seededRandom(yield* Random.nextInt),
    pieceVerified: (piece) => files.pieceVerified(piece),
    addPeers,
    // Stop the sessions from outside them: this may run inside one of them.
    fail: (detail) =>
      failStorage(core, detail, FiberHandle.clear(active).pipe(Effect.forkIn(torrentScope), Effect.asVoid)).pipe(
        Effect.andThen(Effect.sync(() => files.stopped()))
      ),
    background: (effect) => FiberSet.run(backgroundWork, effect).pipe(Effect.asVoid)
  })

  const files = makeFileAccess({
    infoHash,
    meta,
    storage,
    picker: p,
    priorities: () => core.priorities,
    ensureWanted: (index) =>
      core.priorities[index] === 0 ? Effect.ignore(setPriorities(core.priorities.map((x, i) => (i === index ? 1 : x)))) : Effect.void,
    wakeAll: () => wakeAll(core),
    error: () => core.errorMessage
  })

  const setPriorities = (next: ReadonlyArray<FilePriority>) =>
    Effect.gen(function*() {
      if (next.length !== meta.files.length) {
        return yield* new TorrentError({ infoHash, reason: "InvalidArgument", detail: `expected ${meta.files.length} file priorities, got ${next.length}` })
      }
      const wanted = next.map((x) => x > 0)
      yield* storage.setWanted(wanted).pipe(Effect.mapError((e) => new TorrentError({ infoHash, reason: "Storage", detail: e.message })))
      core.priorities = [...next]
      core.wantedBytes = wantedBytesOf(meta, core.priorities)
      p.setFilePriorities(meta.files, core.priorities)
      const current = yield* Ref.get(status)
      if (current === "seeding" && !p.isComplete()) yield* Ref.set(status, "downloading")
      files.refocus()
      yield* markComplete(core)
      yield* publishState(core)
    })
  // BEP 52: a torrent with v2 hashes says so, and answers hash requests (peer/messages.ts).
  const v2 = meta.infoHashV2 !== null
  const ours = {
    infoHash: infoHashBytes,
    peerId: config.peerId,
    reserved: makeReserved({ extensionProtocol: true, fast: true, v2 }),
    ...(meta.infoHash !== null && meta.infoHashV2 !== null ? { upgradedName: meta.infoHashV2.subarray(0, 20) } : {})
  }
  const deps: SwarmDeps = { config, link, book, ours, events, slots: Semaphore.makeUnsafe(config.maxPeers), wake }
  const hooks: SwarmHooks = {
    infoHash: infoHashBytes, peerId: config.peerId, port: config.port, isPrivate: meta.private, trackers: meta.trackers,
    stats: Effect.map(storage.bytesVerified, (verified) => ({
      uploaded: core.uploadMeter.total(),
      downloaded: core.downloadMeter.total(),
      left: Math.max(0, core.wantedBytes - verified)
    })),
    completed: Deferred.await(core.complete).pipe(Effect.ignore), addPeers,
    reportTracker: (url, ok, peers, message) => Effect.sync(() => { core.trackerStatus.set(url, { url, ok, peers, message }) }),
    ...(core.trace === null ? {} : { trace: core.trace })
  }
  const start = runActive(core, link, deps, hooks, activeSessions)

  yield* Effect.forkScoped(Effect.repeat(publishState(core), Schedule.spaced(STATE_INTERVAL)))
  yield* addPeers(config.initialPeers, "initial")
  yield* markComplete(core)
  if (config.startPaused === true) yield* Ref.set(status, "paused")
  else yield* FiberHandle.run(active, start)
  yield* publishState(core)

  const torrent: Torrent = {
    infoHash,
    metainfo: meta,
    state,
    events: Stream.fromPubSub(events),
    subscribe: Effect.map(PubSub.subscribe(events), Stream.fromSubscription),
    pause: Effect.gen(function*() {
      const current = yield* Ref.get(status)
      if (current === "error" || current === "paused") return
      yield* FiberHandle.clear(active)
      // the sessions were interrupted: none told the book it ended
      book.stopped(core.now())
      yield* Ref.set(status, "paused")
      yield* publishState(core)
    }),
    resume: Effect.gen(function*() {
      if ((yield* Ref.get(status)) !== "paused") return
      yield* Ref.set(status, p.isComplete() ? "seeding" : "downloading")
      // the given peers (a link's x.pe, `peers`) again: one the book had given up on is due again
      yield* addPeers(config.initialPeers, "initial")
      yield* FiberHandle.run(active, start)
      yield* publishState(core)
    }),
    whenComplete: Deferred.await(core.complete),
    addPeers,
    // BEP 52: a hybrid answers to its SHA-1 name and to its truncated SHA-256 one (a peer
    // asking for piece layers names its v2 swarm); any other name is not this torrent.
    acceptIncoming: (conn, framer, header, via) =>
      !wireInfoHashes(meta).some((name) => bytesEqual(name, header.infoHash))
        ? conn.close
        : Effect.flatMap(Ref.get(activeSessions), (sessions) =>
          sessions === null ? conn.close : acceptIncoming(deps, sessions, conn, framer, header, via)),
    saveResume: storage.saveResume.pipe(Effect.ignore),
    peers: Effect.sync(() => [...links.values()].map((l) => ({ ...l.stats }))),
    directory: config.directory,
    bitfield: storage.have,
    fileProgress: Effect.sync(() => fileProgress(meta, storage.hasPiece)),
    file: files.file,
    priorities: Effect.sync(() => core.priorities),
    setPriorities
  }
  yield* Effect.addFinalizer(() => publishState(core).pipe(Effect.ignore))
  return torrent
})
