/**
 * Choosing the next blocks to request from one peer.
 *
 * Order: (0) focus pieces (stream readers' windows), open or new, in focus order;
 * (1) missing blocks of open pieces the peer has, pieces it already
 * works on first (fewer half-finished pieces, and a bad piece's contributors
 * stay few); (2) new pieces, rarest first with a random tie-break (from a seed,
 * the piece after the last new one first; lowest index first in sequential
 * mode), while fewer than `maxOpenPieces` servable
 * pieces are still being downloaded; (3) in endgame only, blocks already in flight to other
 * peers, least-duplicated first.
 *
 * A source that fetches byte ranges (a web seed) asks for `contiguous` picks: after a piece,
 * the next new piece is the one that follows it when that one is still untouched, so the
 * blocks merge into long ranges (BEP 19 asks clients to favour long runs for HTTP).
 */
import { PieceIndex } from "../ids.ts"
import { type Block, BLOCK_SIZE, blockLength } from "./geometry.ts"
import {
  addRequester,
  availability,
  MISSING,
  openPiece,
  type PeerState,
  peerHasPiece,
  type Progress,
  REQUESTED,
  type State
} from "./state.ts"
import { forEachBit } from "./peers.ts"
import { inBuckets } from "./buckets.ts"

export const inEndgame = <K>(s: State<K>): boolean => s.remainingWanted > 0 && s.missingWanted === 0

const uniformIndex = (random: () => number, n: number): number => Math.min(n - 1, Math.floor(random() * n))

/** Rarest candidate piece the peer has, by scanning buckets from the rarest up. */
const rarestByBuckets = <K>(s: State<K>, peer: PeerState, random: () => number): number => {
  // A piece no non-seed peer has is only reachable through a seed.
  const from = peer.bits === null ? 0 : 1
  for (let c = from; c < s.buckets.lists.length; c++) {
    const list = s.buckets.lists[c]
    if (list === undefined || list.length === 0) continue
    // Random start + circular scan: a random tie-break among equally rare pieces.
    const start = uniformIndex(random, list.length)
    for (let j = 0; j < list.length; j++) {
      const p = list[(start + j) % list.length]
      if (p !== undefined && peerHasPiece(peer, p)) return p
    }
  }
  return -1
}

/** Same answer as `rarestByBuckets`, walking the peer's (few) pieces instead; uniform tie-break by reservoir sampling. */
const rarestByPeerPieces = <K>(s: State<K>, bits: Uint8Array, random: () => number): number => {
  let best = -1
  let bestCount = Number.POSITIVE_INFINITY
  let ties = 0
  forEachBit(bits, s.g.pieceCount, (p) => {
    if (!inBuckets(s.buckets, p)) return
    const c = s.avail[p] ?? 0
    if (c < bestCount) {
      best = p
      bestCount = c
      ties = 1
    } else if (c === bestCount) {
      ties++
      if (uniformIndex(random, ties) === 0) best = p
    }
  })
  return best
}

const sequentialNext = <K>(s: State<K>, peer: PeerState): number => {
  while (s.seqCursor < s.g.pieceCount && !inBuckets(s.buckets, s.seqCursor)) s.seqCursor++
  for (let p = s.seqCursor; p < s.g.pieceCount; p++) {
    if (inBuckets(s.buckets, p) && peerHasPiece(peer, p)) return p
  }
  return -1
}

/**
 * For a seed, the piece after the last one opened for it, when that is still a candidate and
 * no candidate is rarer (-1 otherwise): among equally rare pieces, what we take from a seed
 * runs in index order from a random start, much as libtorrent's piece extent affinity does.
 * The seeder then reads its file front to back (its read-ahead and cache pay off), and the
 * rarest-first order across availabilities is unchanged. Not for other peers: in a swarm of
 * leechers the random draw keeps what they hold diverse (a 30-peer simulation had a later
 * median completion with runs from every peer).
 */
const extentNext = <K>(s: State<K>, peer: PeerState): number => {
  const next = peer.lastNew + 1
  if (peer.bits !== null || peer.lastNew < 0 || next >= s.g.pieceCount || !inBuckets(s.buckets, next) || !peerHasPiece(peer, next)) return -1
  const count = s.avail[next] ?? 0
  // a seed has every candidate: any in a lower bucket is rarer
  for (let c = 0; c < count; c++) if ((s.buckets.lists[c]?.length ?? 0) > 0) return -1
  return next
}

const nextNewPiece = <K>(s: State<K>, peer: PeerState, random: () => number): number => {
  if (s.sequential) return sequentialNext(s, peer)
  const next = extentNext(s, peer)
  if (next !== -1) return next
  // Few pieces: walking the peer's bitfield beats scanning big buckets of pieces it lacks.
  if (peer.bits !== null && peer.haveCount * 8 < s.buckets.size) return rarestByPeerPieces(s, peer.bits, random)
  return rarestByBuckets(s, peer, random)
}

const takeMissing = <K>(s: State<K>, piece: number, prog: Progress<K>, key: K, max: number, out: Array<Block>): void => {
  let i = prog.hint
  for (; i < prog.state.length && out.length < max; i++) {
    if (prog.state[i] !== MISSING) continue
    addRequester(s, prog, piece, i, key)
    out.push({ piece: PieceIndex(piece), begin: i * BLOCK_SIZE, length: blockLength(s.g, piece, i) })
  }
  // Everything below i is now non-missing (blocks turning missing again lower the hint).
  prog.hint = i
}

const endgameBlocks = <K>(s: State<K>, peer: PeerState, key: K, max: number, out: Array<Block>): void => {
  const candidates: Array<{ piece: number; index: number; prog: Progress<K>; dup: number }> = []
  for (const [piece, prog] of s.open) {
    if (s.wanted[piece] !== 1 || !peerHasPiece(peer, piece)) continue
    for (let i = 0; i < prog.state.length; i++) {
      const reqs = prog.requesters[i]
      if (prog.state[i] !== REQUESTED || reqs === undefined) continue
      if (reqs.length >= s.endgameMaxRequesters || reqs.includes(key)) continue
      candidates.push({ piece, index: i, prog, dup: reqs.length })
    }
  }
  candidates.sort((a, b) => a.dup - b.dup)
  for (const c of candidates) {
    if (out.length >= max) return
    addRequester(s, c.prog, c.piece, c.index, key)
    out.push({ piece: PieceIndex(c.piece), begin: c.index * BLOCK_SIZE, length: blockLength(s.g, c.piece, c.index) })
  }
}

const takeFromOpen = <K>(s: State<K>, pieces: ReadonlyArray<number>, key: K, max: number, out: Array<Block>): void => {
  for (const piece of pieces) {
    if (out.length >= max) return
    const prog = s.open.get(piece)
    if (prog !== undefined) takeMissing(s, piece, prog, key, max, out)
  }
}

/**
 * Up to `max` blocks to request from peer `key`. Each returned block is
 * recorded as in flight to that peer until it is received, released
 * (timeout/cancel/reject/choke) or the peer is removed.
 */
export const pick = <K>(s: State<K>, key: K, max: number, random: () => number, contiguous = false): Array<Block> => {
  const peer = s.peers.get(key)
  const out: Array<Block> = []
  if (peer === undefined || max <= 0) return out

  let servable = 0
  const mine: Array<number> = []
  const others: Array<number> = []
  for (const [piece, prog] of s.open) {
    // Pieces whose every block arrived only wait for their hash check and write: they no
    // longer hold the limit (storage bounds them), or that latency would throttle the download.
    if (availability(s, piece) > 0 && prog.received < prog.state.length) servable++
    if (s.wanted[piece] !== 1 || prog.missing === 0 || !peerHasPiece(peer, piece)) continue
    if (peer.pieceRefs.has(piece) || prog.contributors.has(key)) mine.push(piece)
    else others.push(piece)
  }
  // Focus pieces (a reader waits on them) come before everything, in focus order, open or
  // not, even past the open-piece limit: the focus list is short by contract.
  for (const piece of s.focus) {
    if (out.length >= max) break
    if (s.wanted[piece] !== 1 || s.verified[piece] === 1 || !peerHasPiece(peer, piece)) continue
    const prog = s.open.get(piece)
    if (prog !== undefined) takeMissing(s, piece, prog, key, max, out)
    else if (inBuckets(s.buckets, piece)) {
      servable++
      takeMissing(s, piece, openPiece(s, piece), key, max, out)
    }
  }
  if (s.sequential) {
    const partial = [...mine, ...others].sort((a, b) => a - b)
    takeFromOpen(s, partial, key, max, out)
  } else {
    takeFromOpen(s, mine, key, max, out)
    takeFromOpen(s, others, key, max, out)
  }

  let last = out.length === 0 ? -1 : (out[out.length - 1]?.piece ?? -1)
  while (out.length < max && servable < s.maxOpenPieces) {
    const next = last + 1
    const piece = contiguous && last >= 0 && next < s.g.pieceCount && inBuckets(s.buckets, next) && peerHasPiece(peer, next)
      ? next
      : nextNewPiece(s, peer, random)
    if (piece === -1) break
    servable++
    takeMissing(s, piece, openPiece(s, piece), key, max, out)
    last = piece
    peer.lastNew = piece
  }

  if (out.length < max && inEndgame(s)) endgameBlocks(s, peer, key, max, out)
  return out
}
