/**
 * The piece layers of a v2 torrent fetched from peers (BEP 52 hash requests), for a torrent
 * whose info dict came from a magnet link: ut_metadata carries the info dict only, and the
 * piece layers sit outside it. Without them no piece of a file longer than one piece can be
 * checked, so the torrent opens only once every layer is here and proved.
 *
 * Peers are found and opened as for the metadata (fetch-peers.ts: the link's and the
 * caller's peers, the torrent's peer sources; opened with the truncated v2 info-hash and the
 * v2 reserved bit). Each connection asks for every bucket still missing (piece layers are 32 bytes a
 * piece: asking two peers for the same is cheaper than coordinating them), at most
 * `PIPELINE` at a time. Every answer is checked against the file's pieces root through
 * its uncle hashes (metainfo/hash-tree.ts); a peer sending hashes that do not prove the
 * root, or hashes nobody asked it for, is dropped and banned for the fetch, and never
 * handed to the torrent. A peer rejecting what we still need is dropped (not banned).
 *
 * `onProgress` hears how many files' layers are whole and how many peers are open, as the
 * metadata fetch tells its own: a user sees why nothing downloads yet.
 */
import { Deferred, Duration, Effect } from "effect"
import { toHex } from "../bytes.ts"
import type { PeerKey } from "../ids.ts"
import {
  fileTree,
  type FileTree,
  type HashRange,
  type Metainfo,
  pieceLayerRequests,
  verifyHashes
} from "../metainfo/index.ts"
import type { EncryptionPolicy } from "../mse/index.ts"
import type { Address, Network } from "../net/index.ts"
import { type PeerDialer, tcpDialer } from "../peer/index.ts"
import type { OpenedPeer, PeerSource } from "../torrent/index.ts"
import { encodeMessage, makeReserved, type Message, supportsFast } from "../wire/index.ts"
import { MagnetFetchError, MetadataPeerDropped } from "./errors.ts"
import { runFetchPeers } from "./fetch-peers.ts"
import { nextMessage } from "./peer-wire.ts"

export interface FetchPieceLayersOptions {
  readonly peerId: Uint8Array
  /** Addresses to try first (the magnet's x.pe, the caller's peers). */
  readonly peers: ReadonlyArray<Address>
  readonly sources: ReadonlyArray<PeerSource>
  readonly port?: number
  readonly dial?: PeerDialer
  readonly encryption?: EncryptionPolicy
  /** Deadline for the whole fetch. Default 2 minutes. */
  readonly timeout?: Duration.Input
  /** Handshakes, and each answer: a slower peer is dropped. Default 10 seconds. */
  readonly requestTimeout?: Duration.Input
  /** Connections at once. Default 4. */
  readonly maxPeers?: number
  /** Told at the start and whenever a file's layer is whole or a peer opens or leaves. */
  readonly onProgress?: (progress: PieceLayersProgress) => Effect.Effect<void>
}

/** Where a piece layer fetch stands. */
export interface PieceLayersProgress {
  /** Files whose layer is whole and proved. */
  readonly files: number
  /** Files whose layer is fetched (those missing when the fetch began). */
  readonly total: number
  /** Peers open (handshake done) and being asked. */
  readonly peers: number
}

/** What the fetch gives back: the torrent with every piece layer, and the peers it banned. */
export interface FetchedPieceLayers {
  readonly meta: Metainfo
  readonly banned: ReadonlySet<string>
}

/** Hash requests outstanding per connection. */
const PIPELINE = 8
const DEFAULT_MAX_PEERS = 4

interface Bucket {
  readonly key: string
  readonly tree: FileTree
  readonly range: HashRange
  hashes: Uint8Array | undefined
}

const rangeKey = (r: HashRange): string => `${toHex(r.piecesRoot)}/${r.baseLayer}/${r.index}/${r.length}/${r.proofLayers}`

/** The files of a v2 torrent whose piece layer is missing (files of one piece or less have none). */
export const missingPieceLayers = (meta: Metainfo): Array<FileTree> => {
  if (meta.infoHashV2 === null) return []
  const out: Array<FileTree> = []
  const seen = new Set<string>()
  for (const f of meta.files) {
    if (f.piecesRoot === null || f.length <= meta.pieceLength) continue
    const hex = toHex(f.piecesRoot)
    if (meta.pieceLayers.has(hex) || seen.has(hex)) continue
    seen.add(hex)
    out.push(fileTree(f.piecesRoot, f.length, meta.pieceLength))
  }
  return out
}

/** The 20-byte name of a torrent's v2 swarm (BEP 52: the SHA-256 info-hash truncated). */
const v2Name = (meta: Metainfo): Uint8Array => meta.infoHashV2 === null ? new Uint8Array(20) : meta.infoHashV2.subarray(0, 20)

/** Fetches the piece layers `meta` lacks; `meta` itself when it lacks none. */
export const fetchPieceLayers = Effect.fn("fetchPieceLayers")(function*(
  meta: Metainfo,
  options: FetchPieceLayersOptions
): Effect.fn.Return<FetchedPieceLayers, MagnetFetchError, Network> {
  const trees = missingPieceLayers(meta)
  if (trees.length === 0) return { meta, banned: new Set() }
  const buckets = new Map<string, Bucket>()
  for (const tree of trees) {
    for (const range of pieceLayerRequests(tree)) buckets.set(rangeKey(range), { key: rangeKey(range), tree, range, hashes: undefined })
  }
  const banned = new Set<string>()
  yield* Effect.scoped(collect(meta, buckets, banned, options))
  const layers = new Map(meta.pieceLayers)
  for (const tree of trees) {
    const parts: Array<Uint8Array> = []
    for (const range of pieceLayerRequests(tree)) parts.push(buckets.get(rangeKey(range))?.hashes ?? new Uint8Array(0))
    layers.set(toHex(tree.root), Buffer.concat(parts))
  }
  return { meta: { ...meta, pieceLayers: layers }, banned }
})

const collect = Effect.fnUntraced(function*(
  meta: Metainfo,
  buckets: Map<string, Bucket>,
  banned: Set<string>,
  options: FetchPieceLayersOptions
) {
  const timeout = options.timeout ?? Duration.minutes(2)
  const requestTimeout = options.requestTimeout ?? Duration.seconds(10)
  const requestMillis = Duration.toMillis(requestTimeout)
  const done = yield* Deferred.make<void, MagnetFetchError>()
  let missing = buckets.size
  // buckets still missing per file (by pieces root): a file is whole when its count is 0
  const left = new Map<string, number>()
  for (const b of buckets.values()) left.set(toHex(b.tree.root), (left.get(toHex(b.tree.root)) ?? 0) + 1)
  let filesDone = 0
  let open = 0
  const onProgress = options.onProgress
  const report = onProgress === undefined ? Effect.void : Effect.suspend(() => onProgress({ files: filesDone, total: left.size, peers: open }))

  const session = (opened: OpenedPeer, key: PeerKey) =>
    Effect.acquireUseRelease(
      Effect.andThen(Effect.sync(() => open++), report),
      () => exchange(opened, key),
      () => Effect.andThen(Effect.sync(() => open--), Effect.suspend(() => Deferred.isDoneUnsafe(done) ? Effect.void : report))
    )

  const exchange = ({ conn, framer, handshake }: OpenedPeer, key: PeerKey) =>
    Effect.gen(function*() {
      const drop = (detail: string) => new MetadataPeerDropped({ peer: key, detail })
      const send = (message: Message) => conn.write(encodeMessage(message)).pipe(Effect.mapError((e) => drop(e.message)))
      if (supportsFast(handshake.reserved)) yield* send({ _tag: "HaveNone" })
      const asked = new Map<string, Bucket>()
      const rejected = new Set<string>()
      const ask = Effect.gen(function*() {
        for (const b of buckets.values()) {
          if (asked.size >= PIPELINE) return
          if (b.hashes !== undefined || asked.has(b.key) || rejected.has(b.key)) continue
          asked.set(b.key, b)
          yield* send({ _tag: "HashRequest", ...b.range })
        }
      })
      yield* ask
      while (!Deferred.isDoneUnsafe(done)) {
        if (asked.size === 0) return yield* drop("rejected every piece layer hash we still need")
        const message = yield* nextMessage(conn, framer, key).pipe(
          Effect.timeoutOrElse({ duration: requestTimeout, orElse: () => Effect.fail(drop(`no answer to a hash request within ${requestMillis} ms`)) })
        )
        if (message._tag !== "Hashes" && message._tag !== "HashReject") continue
        const k = rangeKey(message)
        const bucket = asked.get(k)
        if (bucket === undefined) {
          banned.add(key)
          return yield* drop(`sent ${message._tag === "Hashes" ? "hashes" : "a hash reject"} we did not ask for`)
        }
        asked.delete(k)
        if (message._tag === "HashReject") {
          rejected.add(k)
        } else if (bucket.hashes === undefined) {
          const verified = verifyHashes(bucket.tree, bucket.range, message.hashes)
          if (typeof verified === "string") {
            banned.add(key)
            return yield* drop(`sent piece layer hashes that fail their proof: ${verified}`)
          }
          bucket.hashes = verified
          missing--
          const root = toHex(bucket.tree.root)
          const rest = (left.get(root) ?? 1) - 1
          left.set(root, rest)
          if (rest === 0) {
            filesDone++
            yield* report
          }
          if (missing === 0) yield* Deferred.succeed(done, undefined)
        }
        yield* ask
      }
    })

  yield* report
  const peers = yield* runFetchPeers({
    label: "piece layers",
    // The truncated v2 info-hash, for a hybrid too: libtorrent answers hash requests only on a
    // connection it counts as v2, which one naming the v1 hash (over MSE, or plaintext without
    // its upgrade to the v2 name) is not. A peer that answers to the v2 name speaks v2.
    ours: { infoHash: v2Name(meta), peerId: options.peerId, reserved: makeReserved({ extensionProtocol: true, fast: true, v2: true }) },
    peers: options.peers,
    sources: options.sources,
    hooks: {
      port: options.port ?? 6881,
      isPrivate: meta.private,
      trackers: meta.trackers,
      stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: meta.totalSize }),
      reportTracker: () => Effect.void
    },
    maxPeers: options.maxPeers ?? DEFAULT_MAX_PEERS,
    dial: options.dial ?? (yield* tcpDialer(Duration.seconds(5))),
    handshakeTimeoutMillis: requestMillis,
    encryption: options.encryption ?? "prefer",
    banned,
    done,
    session,
    noPeers: (tried, summary) => {
      const detail = tried === 0 ? "no peers to ask (the magnet names none and no peer sources were given)" : `no peer sent them: ${summary}`
      return new MagnetFetchError({ reason: "NoPeers", detail: `the piece layers of this v2 torrent are missing; ${detail}` })
    }
  })
  return yield* Deferred.await(done).pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () =>
        Effect.fail(new MagnetFetchError({ reason: "Timeout", detail: `the piece layers of this v2 torrent did not arrive within ${Duration.toMillis(timeout)} ms: ${peers.summary()}` }))
    })
  )
})
