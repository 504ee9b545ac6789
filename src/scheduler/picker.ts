/**
 * The piece picker: which 16 KiB blocks to request from which peer.
 *
 * A pure, synchronous core (plain mutable state behind methods, randomness
 * passed in) so it can be driven by the real client, the deterministic
 * simulator and property tests alike. The invariants it keeps are written
 * at the top of state.ts; `checkInvariants` verifies them.
 */
import { Result } from "effect"
import type { PieceIndex } from "../ids.ts"
import { type Block, type FileSpan, geometryProblem, wantedPiecesFromFiles } from "./geometry.ts"
import {
  blockReceived,
  type FailedResult,
  pieceFailed,
  pieceVerified,
  type ReceiveResult,
  releaseBlock,
  setWanted,
  type VerifiedResult
} from "./events.ts"
import { checkInvariants } from "./invariants.ts"
import { addPeer, isInteresting, peerHas, peerHasAll, releaseAll, removePeer } from "./peers.ts"
import { inEndgame, pick } from "./pick.ts"
import { availability, makeState, type PickerConfig } from "./state.ts"

export interface Picker<K> {
  readonly addPeer: (peer: K, bitfield: Uint8Array) => void
  readonly peerHasAll: (peer: K) => void
  readonly peerHasNone: (peer: K) => void
  /** Returns true when the peer just became interesting to us. */
  readonly peerHas: (peer: K, piece: PieceIndex) => boolean
  /** Returns the blocks it had in flight; they are requestable again. */
  readonly removePeer: (peer: K) => ReadonlyArray<Block>
  /** It choked us (without BEP 6, pending requests are void): release all its requests. */
  readonly peerChoked: (peer: K) => ReadonlyArray<Block>
  readonly isInteresting: (peer: K) => boolean
  /** `contiguous`: prefer the piece after the last one taken (a source that fetches byte ranges). */
  readonly pick: (peer: K, maxBlocks: number, random: () => number, contiguous?: boolean) => ReadonlyArray<Block>
  readonly blockReceived: (peer: K, piece: PieceIndex, begin: number, length: number) => ReceiveResult<K>
  readonly requestTimedOut: (peer: K, block: Block) => boolean
  readonly cancelled: (peer: K, block: Block) => boolean
  /** BEP 6 reject_request. */
  readonly rejected: (peer: K, block: Block) => boolean
  readonly pieceVerified: (piece: PieceIndex) => VerifiedResult<K>
  readonly pieceFailed: (piece: PieceIndex) => FailedResult<K>
  readonly setWanted: (wanted: ReadonlyArray<boolean>) => void
  readonly setFilePriorities: (files: ReadonlyArray<FileSpan>, priorities: ReadonlyArray<number>) => void
  readonly setSequential: (on: boolean) => void
  /**
   * Pieces to open before any other new piece, in this order (stream readers' windows);
   * an empty list turns the focus off. Already open focus pieces are finished first.
   */
  readonly setFocus: (pieces: ReadonlyArray<number>) => void
  readonly isComplete: () => boolean
  /** Wanted pieces not verified yet. */
  readonly remainingWanted: () => number
  /** Wanted blocks nobody has in flight or delivered yet. */
  readonly missingWantedBlocks: () => number
  readonly inEndgame: () => boolean
  readonly isVerified: (piece: PieceIndex) => boolean
  readonly availability: (piece: PieceIndex) => number
  readonly inflight: (peer: K) => number
  readonly openPieces: () => number
  /** First broken invariant, or null (O(pieces * peers), for tests). */
  readonly checkInvariants: () => string | null
}

export type { PickerConfig }

export const makePicker = <K>(config: PickerConfig): Result.Result<Picker<K>, string> => {
  const problem = geometryProblem(config)
  if (problem !== null) return Result.fail(problem)
  if (config.wanted !== undefined && config.wanted.length !== config.pieceCount) {
    return Result.fail(`wanted has ${config.wanted.length} entries for ${config.pieceCount} pieces`)
  }
  const s = makeState<K>(config)
  const inRange = (piece: number) => Number.isSafeInteger(piece) && piece >= 0 && piece < s.g.pieceCount
  return Result.succeed({
    addPeer: (peer, bitfield) => addPeer(s, peer, bitfield),
    peerHasAll: (peer) => peerHasAll(s, peer),
    peerHasNone: (peer) => addPeer(s, peer, new Uint8Array(0)),
    peerHas: (peer, piece) => peerHas(s, peer, piece),
    removePeer: (peer) => removePeer(s, peer),
    peerChoked: (peer) => releaseAll(s, peer),
    isInteresting: (peer) => {
      const p = s.peers.get(peer)
      return p !== undefined && isInteresting(s, p)
    },
    pick: (peer, maxBlocks, random, contiguous) => pick(s, peer, maxBlocks, random, contiguous),
    blockReceived: (peer, piece, begin, length) => blockReceived(s, peer, piece, begin, length),
    requestTimedOut: (peer, block) => releaseBlock(s, peer, block),
    cancelled: (peer, block) => releaseBlock(s, peer, block),
    rejected: (peer, block) => releaseBlock(s, peer, block),
    pieceVerified: (piece) => pieceVerified(s, piece),
    pieceFailed: (piece) => pieceFailed(s, piece),
    setWanted: (wanted) => setWanted(s, wanted),
    setFilePriorities: (files, priorities) =>
      setWanted(s, wantedPiecesFromFiles(files, s.g.pieceLength, s.g.pieceCount, priorities)),
    setSequential: (on) => {
      s.sequential = on
      s.seqCursor = 0
    },
    setFocus: (pieces) => {
      s.focus = [...new Set(pieces)].filter(inRange)
    },
    isComplete: () => s.remainingWanted === 0,
    remainingWanted: () => s.remainingWanted,
    missingWantedBlocks: () => s.missingWanted,
    inEndgame: () => inEndgame(s),
    isVerified: (piece) => inRange(piece) && s.verified[piece] === 1,
    availability: (piece) => (inRange(piece) ? availability(s, piece) : 0),
    inflight: (peer) => s.peers.get(peer)?.inflight.size ?? 0,
    openPieces: () => s.open.size,
    checkInvariants: () => checkInvariants(s)
  })
}
