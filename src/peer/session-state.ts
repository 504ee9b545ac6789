import type { Connection } from "../net/index.ts"
import type { PeerKey } from "../ids.ts"
import { Bitfield } from "../wire/index.ts"
import type { HashBudget } from "./hash-budget.ts"
import type { BlockRef, PeerStats } from "./link.ts"
import { makeRateMeter, type RateMeter } from "./rate.ts"

/** One outstanding request of ours to the peer. */
export interface OutstandingRequest {
  readonly block: BlockRef
  readonly sentAt: number
}

export const blockKey = (piece: number, begin: number): string => `${piece}:${begin}`

/**
 * Everything one session tracks about its peer. Mutated only by the session's own
 * fibers (reader, writer) and its `tick`, which never run simultaneously.
 *
 * Invariants:
 * - `requests` holds exactly the blocks the picker has recorded as requested from this peer.
 * - `uploads` is the upload queue, in request order: the peer's requests we accepted and have not
 *   sent, rejected or had cancelled; its size never exceeds the session's `maxUploadQueue`.
 * - `stats.amChoking` reflects the last choke/unchoke we sent.
 */
export interface SessionState {
  readonly key: PeerKey
  readonly conn: Connection
  readonly stats: PeerStats
  readonly fast: boolean
  readonly requests: Map<string, OutstandingRequest>
  readonly uploads: Map<string, BlockRef>
  readonly downloadMeter: RateMeter
  readonly uploadMeter: RateMeter
  /** Largest pipeline the peer accepts (BEP 10 `reqq`), capped by ours. */
  maxPipeline: number
  lastReceivedAt: number
  lastSentAt: number
  lastBlockAt: number
  sentBitfield: boolean
  receivedBitfield: boolean
  /** Pieces the peer announced (bitfield, have, have all). */
  peerPieces: Bitfield.Bitfield
  /** The peer's extension ids (BEP 10 `m`): the ids we must send with. */
  extensions: Record<string, number>
  /** ut_metadata requests the peer made (bounded, see extensions.ts). */
  metadataRequests: number
  /** Requests the peer sent that we had to drop (choked, not had, queue full): a flood shows here. */
  violations: number
  /** BEP 52: what hashing the peer may still make us do; made on its first hash request. */
  hashBudget: HashBudget | undefined
}

export const makeSessionState = (
  key: PeerKey,
  conn: Connection,
  fast: boolean,
  client: string,
  now: number,
  maxPipeline: number,
  pieceCount: number
): SessionState => ({
  key,
  conn,
  fast,
  stats: {
    key,
    client,
    peerChoking: true,
    amChoking: true,
    peerInterested: false,
    amInterested: false,
    snubbed: false,
    downloadRate: 0,
    uploadRate: 0,
    downloaded: 0,
    uploaded: 0,
    haveCount: 0,
    isSeed: false,
    connectedAt: now,
    inflight: 0,
    pipelineDepth: 0,
    listenAddress: null,
    uploadOnly: false,
    transport: "tcp",
    encryption: "none"
  },
  requests: new Map(),
  uploads: new Map(),
  downloadMeter: makeRateMeter(),
  uploadMeter: makeRateMeter(),
  maxPipeline,
  lastReceivedAt: now,
  lastSentAt: now,
  lastBlockAt: now,
  sentBitfield: false,
  receivedBitfield: false,
  violations: 0,
  extensions: {},
  peerPieces: Bitfield.make(pieceCount),
  metadataRequests: 0,
  hashBudget: undefined
})
