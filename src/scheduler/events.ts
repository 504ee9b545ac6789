/**
 * What happened to blocks and pieces: received, released, verified, failed,
 * and changes of the wanted set. Each keeps the invariants of state.ts.
 */
import { PieceIndex } from "../ids.ts"
import { BLOCK_SIZE, type Block, blockLength, blocksInPiece, hasBit } from "./geometry.ts"
import { recountInteresting } from "./peers.ts"
import {
  blockKey,
  clearRequesters,
  closeIfIdle,
  MISSING,
  RECEIVED,
  refile,
  releaseRequest,
  REQUESTED,
  type State
} from "./state.ts"

/** Index of the block `(piece, begin, length)` names, or -1 when no such block exists. */
export const blockIndex = <K>(s: State<K>, piece: number, begin: number, length: number): number => {
  if (!Number.isSafeInteger(piece) || piece < 0 || piece >= s.g.pieceCount) return -1
  if (!Number.isSafeInteger(begin) || begin < 0 || begin % BLOCK_SIZE !== 0) return -1
  const index = begin / BLOCK_SIZE
  if (index >= blocksInPiece(s.g, piece) || blockLength(s.g, piece, index) !== length) return -1
  return index
}

/**
 * `peerKey` no longer has the block in flight: request timed out, we cancelled
 * it, or the peer rejected it (BEP 6). The block is requestable again unless
 * another peer still has it in flight. Returns false when it was not in flight to that peer.
 */
export const releaseBlock = <K>(s: State<K>, peerKey: K, block: Block): boolean => {
  const index = blockIndex(s, block.piece, block.begin, block.length)
  return index !== -1 && releaseRequest(s, peerKey, blockKey(s, block.piece, index))
}

export type ReceiveResult<K> =
  | {
    readonly _tag: "Accepted"
    /** Other peers that had this block in flight: send them `cancel`. */
    readonly cancels: ReadonlyArray<K>
    /** Every block of the piece is here: hash it, then call pieceVerified or pieceFailed. */
    readonly pieceComplete: boolean
  }
  /** Not a block of this torrent, or the wrong length: a protocol violation. */
  | { readonly _tag: "Invalid" }
  /** We already have it (endgame duplicate, or a late answer): drop the data. */
  | { readonly _tag: "Duplicate" }
  /** The piece is not being downloaded (never requested, or given up on): drop the data. */
  | { readonly _tag: "Unrequested" }

/** A block arrived from `peerKey`. Only an `Accepted` block should be written to storage. */
export const blockReceived = <K>(
  s: State<K>,
  peerKey: K,
  piece: number,
  begin: number,
  length: number
): ReceiveResult<K> => {
  const index = blockIndex(s, piece, begin, length)
  if (index === -1) return { _tag: "Invalid" }
  if (s.verified[piece] === 1) return { _tag: "Duplicate" }
  const prog = s.open.get(piece)
  if (prog === undefined) return { _tag: "Unrequested" }
  const state = prog.state[index]
  if (state === RECEIVED) return { _tag: "Duplicate" }
  const cancels = clearRequesters(s, prog, piece, index).filter((k) => k !== peerKey)
  if (state === MISSING) {
    prog.missing--
    if (s.wanted[piece] === 1) s.missingWanted--
  } else if (state === REQUESTED) {
    prog.requested--
  }
  prog.state[index] = RECEIVED
  prog.received++
  prog.contributors.add(peerKey)
  prog.senders[index] = peerKey
  return { _tag: "Accepted", cancels, pieceComplete: prog.received === prog.state.length }
}

export interface VerifiedResult<K> {
  /** Requests still in flight for this piece (possible when verified without receiving them): cancel them. */
  readonly cancels: ReadonlyArray<{ readonly peer: K; readonly block: Block }>
  /** Peers that have nothing left we want: send them `not interested`. */
  readonly notInteresting: ReadonlyArray<K>
  /** Peers whose blocks made the piece (none when it was found on disk). */
  readonly contributors: ReadonlySet<K>
}

const NO_PEERS: ReadonlySet<never> = new Set()

export interface FailedResult<K> {
  readonly contributors: ReadonlySet<K>
  /** By block index: the peer whose block was in the failed piece (undefined: not received). */
  readonly senders: ReadonlyArray<K | undefined>
}

/** The piece's hash matched (or it was found on disk): it is ours for good. */
export const pieceVerified = <K>(s: State<K>, piece: number): VerifiedResult<K> => {
  if (!Number.isSafeInteger(piece) || piece < 0 || piece >= s.g.pieceCount || s.verified[piece] === 1) {
    return { cancels: [], notInteresting: [], contributors: NO_PEERS }
  }
  const cancels: Array<{ peer: K; block: Block }> = []
  const prog = s.open.get(piece)
  const missing = prog === undefined ? blocksInPiece(s.g, piece) : prog.missing
  if (prog !== undefined) {
    for (let i = 0; i < prog.state.length; i++) {
      const block = { piece: PieceIndex(piece), begin: i * BLOCK_SIZE, length: blockLength(s.g, piece, i) }
      for (const peer of clearRequesters(s, prog, piece, i)) cancels.push({ peer, block })
    }
    s.open.delete(piece)
  }
  const wasWanted = s.wanted[piece] === 1
  s.verified[piece] = 1
  refile(s, piece)
  const notInteresting: Array<K> = []
  if (wasWanted) {
    s.missingWanted -= missing
    s.remainingWanted--
    for (const [key, peer] of s.peers) {
      if (peer.bits === null) {
        if (s.remainingWanted === 0) notInteresting.push(key)
      } else if (hasBit(peer.bits, piece)) {
        peer.interesting--
        if (peer.interesting === 0) notInteresting.push(key)
      }
    }
  }
  return { cancels, notInteresting, contributors: prog?.contributors ?? NO_PEERS }
}

/**
 * The piece's hash did not match: every received block is missing again.
 * Returns the peers that sent blocks of it, and who sent which block (by block index;
 * undefined for a block not received), for the smart ban to compare once the piece verifies.
 */
export const pieceFailed = <K>(s: State<K>, piece: number): FailedResult<K> => {
  const prog = s.open.get(piece)
  if (prog === undefined) return { contributors: NO_PEERS, senders: [] }
  const contributors = prog.contributors
  const senders = prog.senders.slice()
  for (let i = 0; i < prog.state.length; i++) {
    if (prog.state[i] !== RECEIVED) continue
    prog.state[i] = MISSING
    prog.senders[i] = undefined
    prog.received--
    prog.missing++
    if (s.wanted[piece] === 1) s.missingWanted++
  }
  prog.hint = 0
  prog.contributors = new Set()
  closeIfIdle(s, piece)
  return { contributors, senders }
}

/**
 * Replace the wanted set (missing entries = not wanted). Requests already in
 * flight for newly unwanted pieces are left to finish; no new ones are made.
 */
export const setWanted = <K>(s: State<K>, wanted: ReadonlyArray<boolean>): void => {
  for (let p = 0; p < s.g.pieceCount; p++) {
    const now = wanted[p] === true ? 1 : 0
    if (s.wanted[p] === now) continue
    if (s.verified[p] === 0) {
      const prog = s.open.get(p)
      const missing = prog === undefined ? blocksInPiece(s.g, p) : prog.missing
      const sign = now === 1 ? 1 : -1
      s.missingWanted += sign * missing
      s.remainingWanted += sign
    }
    s.wanted[p] = now
    refile(s, p)
  }
  recountInteresting(s)
}
