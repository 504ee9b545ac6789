/**
 * Fetching a magnet link's info dict from peers (BEP 9 ut_metadata, client side).
 *
 * Addresses come from the magnet's `x.pe` and from the same `PeerSource`s a torrent
 * uses (trackers, DHT), and are dialled and opened as a torrent's are (fetch-peers.ts), up
 * to `maxPeers` at once. Each peer, its BEP 3 handshake done with the extension bit, does
 * the BEP 10 extended handshake and then serves the assembly (assembly.ts), which decides
 * who is asked for which piece and what is kept.
 * Everything (sockets, peer fibers, sources, the request timer) lives in one scope that
 * closes when the fetch ends, whatever the outcome.
 *
 * Ids per direction (BEP 10): we send ut_metadata messages with the id from THEIR `m`,
 * they send them to the id from OUR `m` (`OUR_UT_METADATA_ID`).
 */
import { Clock, Deferred, Duration, Effect, Queue, Schedule } from "effect"
import type { Magnet, Metainfo } from "../metainfo/index.ts"
import { bytesEqual, sha1, sha256 } from "../bytes.ts"
import { parseInfoDict, wireInfoHash } from "../metainfo/index.ts"
import type { PeerKey } from "../ids.ts"
import type { EncryptionPolicy } from "../mse/index.ts"
import type { Network } from "../net/index.ts"
import { type PeerDialer, tcpDialer } from "../peer/index.ts"
import type { OpenedPeer, PeerSource } from "../torrent/index.ts"
import { makeReserved, supportsExtensionProtocol, supportsFast } from "../wire/index.ts"
import {
  addPeer,
  type Assembly,
  expiredPeers,
  makeAssembly,
  type MetadataProgress,
  progress,
  removePeer,
  schedule
} from "./assembly.ts"
import { MagnetFetchError, MetadataPeerDropped } from "./errors.ts"
import { runFetchPeers } from "./fetch-peers.ts"
import { handleMessage, nextMessage, sendHaveNone, sendOurExtendedHandshake, sendRequest, waitExtendedHandshake } from "./peer-wire.ts"

export interface FetchMetadataOptions {
  readonly peerId: Uint8Array
  /** Trackers, DHT…: they feed addresses through `hooks.addPeers`. */
  readonly sources: ReadonlyArray<PeerSource>
  /** Port told to trackers and the DHT (our listening port). Default 6881. */
  readonly port?: number
  /** Connections at once. Default 8. */
  readonly maxPeers?: number
  /** Deadline for the whole fetch. Default 2 minutes. */
  readonly timeout?: Duration.Input
  /** Opens peer connections (the transport seam, peer/dialer.ts). Default: TCP within `connectTimeout`. */
  readonly dial?: PeerDialer
  /** TCP connect, for the default `dial`. Default 5 seconds. */
  readonly connectTimeout?: Duration.Input
  /** Handshakes, and each metadata request: a peer slower than this is dropped. Default 10 seconds. */
  readonly requestTimeout?: Duration.Input
  /** Largest metadata_size accepted (nothing larger is ever allocated). Default 16 MiB. */
  readonly maxMetadataSize?: number
  /** How connections open (MSE/PE or plaintext), as for a torrent's peers. Default "prefer". */
  readonly encryption?: EncryptionPolicy
  readonly onProgress?: (progress: MetadataProgress) => Effect.Effect<void>
}

export const DEFAULT_MAX_METADATA_SIZE = 16 * 1024 * 1024
const DEFAULT_MAX_PEERS = 8
const PER_PEER_REQUESTS = 2
/**
 * What trackers are told we still need. The real size is unknown; 0 would mark us a seeder
 * (trackers then leave seeders out of the answer, and those are the peers we want).
 */
const LEFT_UNKNOWN = 16 * 1024

interface PeerHandle {
  readonly outbox: Queue.Queue<number>
  readonly kill: Deferred.Deferred<never, MetadataPeerDropped>
  /** Their ut_metadata id (from their `m`); 0 until their extended handshake. */
  theirId: number
}

/** Every hash the magnet names must match (both for a hybrid magnet). */
const verifier = (magnet: Magnet) => (metadata: Uint8Array): boolean =>
  (magnet.infoHash === null || bytesEqual(sha1(metadata), magnet.infoHash)) &&
  (magnet.infoHashV2 === null || bytesEqual(sha256(metadata), magnet.infoHashV2))

/**
 * Fetches and verifies the info dict a magnet link names, then parses it with the
 * magnet's trackers (one tier each, in link order) and web seeds.
 */
export const fetchMetadata = Effect.fn("fetchMetadata")(function*(
  magnet: Magnet,
  options: FetchMetadataOptions
): Effect.fn.Return<Metainfo, MagnetFetchError, Network> {
  const infoHash = wireInfoHash(magnet)
  if (magnet.infoHash === null && magnet.infoHashV2 === null) {
    return yield* new MagnetFetchError({ reason: "InvalidMagnet", detail: "the magnet link has no info-hash" })
  }
  const trackers = magnet.trackers.map((url) => [url])
  const metadata = yield* Effect.scoped(collect(magnet, infoHash, trackers, options))
  return yield* parseInfoDict(metadata, { trackers, webSeeds: magnet.webSeeds }).pipe(
    Effect.mapError((e) =>
      new MagnetFetchError({ reason: "InvalidMetadata", detail: `the info dict matching the info-hash is invalid: ${e.message}` })
    )
  )
})

const collect = Effect.fnUntraced(function*(
  magnet: Magnet,
  infoHash: Uint8Array,
  trackers: ReadonlyArray<ReadonlyArray<string>>,
  options: FetchMetadataOptions
) {
  const timeout = options.timeout ?? Duration.minutes(2)
  const requestTimeout = options.requestTimeout ?? Duration.seconds(10)
  const requestMillis = Duration.toMillis(requestTimeout)

  const a: Assembly = makeAssembly({
    maxMetadataSize: options.maxMetadataSize ?? DEFAULT_MAX_METADATA_SIZE,
    perPeer: PER_PEER_REQUESTS,
    verify: verifier(magnet)
  })
  const done = yield* Deferred.make<Uint8Array, MagnetFetchError>()
  const handles = new Map<string, PeerHandle>()
  let offered = 0
  let lastProgress = ""

  const report = Effect.suspend(() => {
    const p = progress(a)
    const text = `${p.peers}/${p.received}/${p.total}`
    if (options.onProgress === undefined || text === lastProgress) return Effect.void
    lastProgress = text
    return options.onProgress(p)
  })

  // Hands out requests; each goes to its peer's outbox, written by that peer's writer fiber.
  const dispatch = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const r of schedule(a, now)) {
      const handle = handles.get(r.peer)
      if (handle !== undefined) Queue.offerUnsafe(handle.outbox, r.piece)
    }
    yield* report
  })

  const kill = (key: string, detail: string) =>
    Effect.suspend(() => {
      const handle = handles.get(key)
      return handle === undefined ? Effect.void : Deferred.fail(handle.kill, new MetadataPeerDropped({ peer: key, detail }))
    })

  const serve = (opened: OpenedPeer, key: PeerKey, handle: PeerHandle) =>
    Effect.gen(function*() {
      const drop = (detail: string) => new MetadataPeerDropped({ peer: key, detail })
      const { conn, framer, handshake: theirs } = opened
      if (!supportsExtensionProtocol(theirs.reserved)) return yield* drop("does not support the extension protocol (BEP 10)")
      yield* sendOurExtendedHandshake(conn, key)
      if (supportsFast(theirs.reserved)) yield* sendHaveNone(conn, key)
      const ext = yield* waitExtendedHandshake(conn, framer, key).pipe(
        Effect.timeoutOrElse({
          duration: requestTimeout,
          orElse: () => Effect.fail(drop(`no extended handshake within ${requestMillis} ms`))
        })
      )
      const id = ext.m["ut_metadata"] ?? 0
      if (id === 0) return yield* drop("does not offer ut_metadata")
      handle.theirId = id
      const added = addPeer(a, key, ext.metadata_size)
      if (added._tag === "Refused") return yield* drop(added.reason)
      offered++
      yield* Effect.forkScoped(
        Effect.forever(Queue.take(handle.outbox).pipe(Effect.flatMap((piece) => sendRequest(conn, key, handle.theirId, piece))))
          .pipe(Effect.catch((e) => Deferred.fail(handle.kill, e)))
      )
      yield* dispatch
      while (true) {
        const message = yield* nextMessage(conn, framer, key)
        const outcome = yield* handleMessage(a, conn, key, message, handle)
        switch (outcome._tag) {
          case "Continue":
            break
          case "Changed":
            yield* dispatch
            break
          case "Complete":
            yield* report
            yield* Deferred.succeed(done, outcome.metadata)
            return
          case "HashMismatch": {
            const from = outcome.contributors.join(", ")
            const what = outcome.banned.length > 0 ? "banned" : "now fetching from one peer at a time"
            yield* Effect.logWarning(`metadata from ${from} does not match the info-hash: ${what}`)
            peers.note(`metadata from ${from} did not match the info-hash (${what})`)
            for (const k of outcome.banned) if (k !== key) yield* kill(k, "sent metadata not matching the info-hash")
            if (outcome.banned.includes(key)) return yield* drop("sent metadata not matching the info-hash")
            yield* dispatch
            break
          }
          case "Drop":
            return yield* drop(outcome.reason)
        }
      }
    })

  // A peer's session races its kill switch (a request timed out, a hash mismatch banned it).
  const session = (opened: OpenedPeer, key: PeerKey) =>
    Effect.gen(function*() {
      const handle: PeerHandle = {
        outbox: yield* Queue.unbounded<number>(),
        kill: yield* Deferred.make<never, MetadataPeerDropped>(),
        theirId: 0
      }
      handles.set(key, handle)
      yield* serve(opened, key, handle).pipe(Effect.raceFirst(Deferred.await(handle.kill)))
    })

  const ended = (key: PeerKey) =>
    Effect.suspend(() => {
      handles.delete(key)
      removePeer(a, key)
      return Deferred.isDoneUnsafe(done) ? Effect.void : dispatch
    })

  const peers = yield* runFetchPeers({
    label: "metadata fetch",
    ours: { infoHash, peerId: options.peerId, reserved: makeReserved({ extensionProtocol: true, fast: true }) },
    peers: magnet.peers,
    sources: options.sources,
    hooks: {
      port: options.port ?? 6881,
      isPrivate: false,
      trackers,
      stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: LEFT_UNKNOWN }),
      reportTracker: (url, ok, peers, message) =>
        Effect.logDebug(`metadata fetch: tracker ${url} ${ok ? `gave ${peers} peer(s)` : `failed: ${message ?? "?"}`}`)
    },
    maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
    dial: options.dial ?? (yield* tcpDialer(options.connectTimeout ?? Duration.seconds(5))),
    handshakeTimeoutMillis: requestMillis,
    encryption: options.encryption ?? "prefer",
    banned: a.banned,
    done,
    session,
    ended,
    noPeers: (tried, summary) =>
      new MagnetFetchError({
        reason: "NoPeers",
        detail: tried === 0
          ? "the magnet link names no peers (x.pe) and no peer sources were given"
          : `no peer sent valid metadata: ${summary}`
      })
  })

  // Request timer: a peer sitting on a request is dropped and its pieces go to others.
  const expireRequests = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const expired = expiredPeers(a, now, requestMillis)
    for (const key of expired) {
      removePeer(a, key)
      yield* kill(key, `did not answer a metadata request within ${requestMillis} ms`)
    }
    if (expired.length > 0) yield* dispatch
  })
  yield* Effect.forkScoped(Effect.schedule(expireRequests, Schedule.spaced(Math.max(50, Math.floor(requestMillis / 4)))))
  yield* report

  return yield* Deferred.await(done).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(
          offered === 0
            ? new MagnetFetchError({
              reason: "NoPeers",
              detail: `no peer offering the metadata was found within ${Duration.toMillis(timeout)} ms: ${peers.summary()}`
            })
            : new MagnetFetchError({
              reason: "Timeout",
              detail: `timed out after ${Duration.toMillis(timeout)} ms with ${a.received} of ${a.size ?? "?"} bytes: ${peers.summary()}`
            })
        )
    })
  )
})
