/**
 * The picker's mutable state and the few primitive transitions every
 * operation is built from. Plain data, no Effect.
 *
 * Invariants (checked by `checkInvariants`, relied on everywhere):
 * 1. Every block of an unverified piece is in exactly one state:
 *    missing, requested (by >= 1 peer, each at most once), or received.
 *    A piece without a `Progress` entry ("closed") has all blocks missing;
 *    a verified piece has no `Progress` and no block in flight.
 * 2. A piece is open (has `Progress`) iff some block of it is requested or
 *    received. An open piece whose last request goes away with nothing received
 *    is closed again (so open pieces measure real in-flight memory).
 * 3. Piece p sits in the availability buckets iff wanted[p] && !verified[p] && !open(p),
 *    under bucket `avail[p]` (the number of non-seed peers having p; seeds are
 *    counted once in `seeds`, which shifts every piece equally).
 * 4. `peer.inflight` holds block key k iff the peer is among the requesters of k;
 *    `peer.pieceRefs[p]` counts those keys within piece p.
 * 5. `missingWanted` = sum over wanted, unverified pieces of their missing blocks;
 *    `remainingWanted` = number of wanted, unverified pieces.
 * 6. `peer.interesting` (non-seeds) = number of wanted, unverified pieces the peer has.
 */
import { PieceIndex } from "../ids.ts"
import { type Buckets, bucketAdd, bucketRemove, inBuckets, makeBuckets } from "./buckets.ts"
import { BLOCK_SIZE, type Block, blockLength, blocksInPiece, type Geometry, hasBit } from "./geometry.ts"

export const MISSING = 0
export const REQUESTED = 1
export const RECEIVED = 2

export interface Progress<K> {
  readonly state: Uint8Array
  readonly requesters: Array<Array<K> | undefined>
  missing: number
  requested: number
  received: number
  contributors: Set<K>
  /** Who sent each received block (smart ban: which peer sent which bytes of a piece that failed). */
  senders: Array<K | undefined>
  /** No block below this index is missing: keeps repeated picks off already-requested prefixes. */
  hint: number
}

export interface PeerState {
  /** null = has every piece (seed): counted in `seeds`, not in `avail`. */
  bits: Uint8Array | null
  haveCount: number
  interesting: number
  /** `NO_INFLIGHT` and `NO_PIECE_REFS` until its first request (`addRef`). */
  inflight: Set<number>
  pieceRefs: Map<number, number>
  /** The last new piece opened for this peer (-1: none yet): its extent goes on from there (pick.ts). */
  lastNew: number
}

export interface PickerConfig extends Geometry {
  /**
   * At most this many open pieces that some connected peer can still serve and that
   * still miss blocks. The storage keeps open pieces in memory, so this bounds that
   * memory. Open pieces nobody connected has do not count: they cannot progress, and
   * counting them could block the download for good. Pieces with every block received
   * (waiting for their hash check and write) do not count either: the storage bounds
   * those, and counting them made the check's latency throttle the download.
   */
  readonly maxOpenPieces?: number
  /** In endgame, at most this many peers are asked for the same block. */
  readonly endgameMaxRequesters?: number
  /** Pieces we already have (BEP 3 bitfield layout). */
  readonly have?: Uint8Array
  /** Wanted flags per piece; missing = every piece wanted. */
  readonly wanted?: ReadonlyArray<boolean>
  readonly sequential?: boolean
}

export interface State<K> {
  readonly g: Geometry
  readonly blocksPerPiece: number
  readonly maxOpenPieces: number
  readonly endgameMaxRequesters: number
  readonly verified: Uint8Array
  readonly wanted: Uint8Array
  readonly avail: Int32Array
  seeds: number
  readonly buckets: Buckets
  readonly open: Map<number, Progress<K>>
  readonly peers: Map<K, PeerState>
  missingWanted: number
  remainingWanted: number
  sequential: boolean
  seqCursor: number
  /** Pieces to open before any other new piece, in this order (a stream reader's window). */
  focus: ReadonlyArray<number>
}

export const makeState = <K>(config: PickerConfig): State<K> => {
  const g: Geometry = { pieceCount: config.pieceCount, pieceLength: config.pieceLength, totalSize: config.totalSize }
  const n = g.pieceCount
  const s: State<K> = {
    g,
    blocksPerPiece: Math.ceil(g.pieceLength / BLOCK_SIZE),
    maxOpenPieces: Math.max(1, config.maxOpenPieces ?? 64),
    endgameMaxRequesters: Math.max(2, config.endgameMaxRequesters ?? 4),
    verified: new Uint8Array(n),
    wanted: new Uint8Array(n),
    avail: new Int32Array(n),
    seeds: 0,
    buckets: makeBuckets(n),
    open: new Map(),
    peers: new Map(),
    missingWanted: 0,
    remainingWanted: 0,
    sequential: config.sequential ?? false,
    seqCursor: 0,
    focus: []
  }
  for (let p = 0; p < n; p++) {
    if (config.have !== undefined && hasBit(config.have, p)) s.verified[p] = 1
    if (config.wanted === undefined || config.wanted[p] === true) s.wanted[p] = 1
    if (s.wanted[p] === 1 && s.verified[p] === 0) {
      s.remainingWanted++
      s.missingWanted += blocksInPiece(g, p)
      bucketAdd(s.buckets, p, 0)
    }
  }
  return s
}

export const blockKey = <K>(s: State<K>, piece: number, index: number): number => piece * s.blocksPerPiece + index

export const blockOfKey = <K>(s: State<K>, key: number): Block => {
  const piece = Math.floor(key / s.blocksPerPiece)
  const index = key - piece * s.blocksPerPiece
  return { piece: PieceIndex(piece), begin: index * BLOCK_SIZE, length: blockLength(s.g, piece, index) }
}

export const availability = <K>(s: State<K>, piece: number): number => (s.avail[piece] ?? 0) + s.seeds

export const peerHasPiece = (peer: PeerState, piece: number): boolean => peer.bits === null || hasBit(peer.bits, piece)

export const isCandidate = <K>(s: State<K>, piece: number): boolean =>
  s.wanted[piece] === 1 && s.verified[piece] === 0 && !s.open.has(piece)

/** Put a piece back among the candidates if invariant 3 says it belongs there. */
export const refile = <K>(s: State<K>, piece: number): void => {
  if (isCandidate(s, piece)) {
    bucketAdd(s.buckets, piece, s.avail[piece] ?? 0)
    if (piece < s.seqCursor) s.seqCursor = piece
  } else if (inBuckets(s.buckets, piece)) {
    bucketRemove(s.buckets, piece, s.avail[piece] ?? 0)
  }
}

export const openPiece = <K>(s: State<K>, piece: number): Progress<K> => {
  const existing = s.open.get(piece)
  if (existing !== undefined) return existing
  const n = blocksInPiece(s.g, piece)
  const prog: Progress<K> = {
    state: new Uint8Array(n),
    requesters: new Array<Array<K> | undefined>(n).fill(undefined),
    missing: n,
    requested: 0,
    received: 0,
    contributors: new Set(),
    senders: new Array<K | undefined>(n).fill(undefined),
    hint: 0
  }
  s.open.set(piece, prog)
  refile(s, piece)
  return prog
}

/** Invariant 2: forget a piece that holds nothing any more. */
export const closeIfIdle = <K>(s: State<K>, piece: number): void => {
  const prog = s.open.get(piece)
  if (prog === undefined || prog.received > 0 || prog.requested > 0) return
  s.open.delete(piece)
  refile(s, piece)
}

/**
 * What a peer starts with, shared and never added to: most peers of a big swarm never have a
 * block in flight to them, and an empty Set and Map of their own were ~0.33 KB each (issue 18).
 */
export const NO_INFLIGHT: Set<number> = new Set()
export const NO_PIECE_REFS: Map<number, number> = new Map()

const addRef = (peer: PeerState, key: number, piece: number): void => {
  if (peer.inflight === NO_INFLIGHT) {
    peer.inflight = new Set()
    peer.pieceRefs = new Map()
  }
  peer.inflight.add(key)
  peer.pieceRefs.set(piece, (peer.pieceRefs.get(piece) ?? 0) + 1)
}

const dropRef = (peer: PeerState, key: number, piece: number): void => {
  if (!peer.inflight.delete(key)) return
  const left = (peer.pieceRefs.get(piece) ?? 1) - 1
  if (left === 0) peer.pieceRefs.delete(piece)
  else peer.pieceRefs.set(piece, left)
}

/** Record that `key` (block `index` of open piece `piece`) is requested from `peerKey`. */
export const addRequester = <K>(s: State<K>, prog: Progress<K>, piece: number, index: number, peerKey: K): void => {
  const peer = s.peers.get(peerKey)
  if (peer === undefined) return
  if (prog.state[index] === MISSING) {
    prog.state[index] = REQUESTED
    prog.missing--
    prog.requested++
    if (s.wanted[piece] === 1) s.missingWanted--
  }
  const reqs = prog.requesters[index]
  if (reqs === undefined) prog.requesters[index] = [peerKey]
  else reqs.push(peerKey)
  addRef(peer, blockKey(s, piece, index), piece)
}

/**
 * `peerKey` no longer has block `key` in flight (timeout, cancel, reject,
 * choke, disconnect). The block becomes missing when nobody else has it in flight.
 * Returns whether the peer had it in flight.
 */
export const releaseRequest = <K>(s: State<K>, peerKey: K, key: number): boolean => {
  const peer = s.peers.get(peerKey)
  if (peer === undefined || !peer.inflight.has(key)) return false
  const piece = Math.floor(key / s.blocksPerPiece)
  const index = key - piece * s.blocksPerPiece
  dropRef(peer, key, piece)
  const prog = s.open.get(piece)
  if (prog === undefined) return true
  const reqs = prog.requesters[index]
  if (reqs !== undefined) {
    const at = reqs.indexOf(peerKey)
    if (at !== -1) reqs.splice(at, 1)
    if (reqs.length === 0) prog.requesters[index] = undefined
  }
  if (prog.state[index] === REQUESTED && prog.requesters[index] === undefined) {
    prog.state[index] = MISSING
    prog.requested--
    prog.missing++
    if (index < prog.hint) prog.hint = index
    if (s.wanted[piece] === 1) s.missingWanted++
  }
  closeIfIdle(s, piece)
  return true
}

/** Drop every requester of block `index` from their in-flight sets; returns who they were. */
export const clearRequesters = <K>(s: State<K>, prog: Progress<K>, piece: number, index: number): Array<K> => {
  const reqs = prog.requesters[index] ?? []
  const key = blockKey(s, piece, index)
  for (const r of reqs) {
    const peer = s.peers.get(r)
    if (peer !== undefined) dropRef(peer, key, piece)
  }
  prog.requesters[index] = undefined
  return reqs
}
