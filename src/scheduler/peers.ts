/**
 * Peer membership and availability bookkeeping (invariants 3, 4 and 6 of state.ts).
 */
import { bucketMove } from "./buckets.ts"
import { type Block, hasBit, normaliseBitfield, popcount, setBit } from "./geometry.ts"
import { blockOfKey, NO_INFLIGHT, NO_PIECE_REFS, type PeerState, releaseRequest, type State } from "./state.ts"

const relevant = <K>(s: State<K>, piece: number): boolean => s.wanted[piece] === 1 && s.verified[piece] === 0

const bump = <K>(s: State<K>, piece: number, delta: 1 | -1): void => {
  const from = s.avail[piece] ?? 0
  s.avail[piece] = from + delta
  bucketMove(s.buckets, piece, from, from + delta)
}

/** Calls `f` for every set bit; skips zero bytes so sparse bitfields are cheap. */
export const forEachBit = (bits: Uint8Array, count: number, f: (piece: number) => void): void => {
  for (let i = 0; i < bits.length; i++) {
    const byte = bits[i] ?? 0
    if (byte === 0) continue
    for (let b = 0; b < 8; b++) {
      const piece = i * 8 + b
      if (piece >= count) return
      if ((byte & (0x80 >> b)) !== 0) f(piece)
    }
  }
}

export const countInteresting = <K>(s: State<K>, bits: Uint8Array): number => {
  let n = 0
  forEachBit(bits, s.g.pieceCount, (p) => {
    if (relevant(s, p)) n++
  })
  return n
}

/** Every peer's `interesting` from scratch (after the wanted set changed). */
export const recountInteresting = <K>(s: State<K>): void => {
  for (const peer of s.peers.values()) if (peer.bits !== null) peer.interesting = countInteresting(s, peer.bits)
}

export const isInteresting = <K>(s: State<K>, peer: PeerState): boolean =>
  peer.bits === null ? s.remainingWanted > 0 : peer.interesting > 0

/** A peer that turned out to have everything becomes a seed: O(1) availability from then on. */
const becomeSeed = <K>(s: State<K>, peer: PeerState): void => {
  if (peer.bits === null) return
  forEachBit(peer.bits, s.g.pieceCount, (p) => bump(s, p, -1))
  peer.bits = null
  peer.haveCount = s.g.pieceCount
  peer.interesting = 0
  s.seeds++
}

/** Removes a peer; its in-flight blocks become requestable again and are returned. */
export const removePeer = <K>(s: State<K>, key: K): Array<Block> => {
  const peer = s.peers.get(key)
  if (peer === undefined) return []
  const released = releaseAll(s, key)
  if (peer.bits === null) s.seeds--
  else forEachBit(peer.bits, s.g.pieceCount, (p) => bump(s, p, -1))
  s.peers.delete(key)
  return released
}

/** Forget every request in flight to `key` (it choked us, or is going away); they become requestable. */
export const releaseAll = <K>(s: State<K>, key: K): Array<Block> => {
  const peer = s.peers.get(key)
  if (peer === undefined) return []
  const keys = [...peer.inflight]
  for (const k of keys) releaseRequest(s, key, k)
  return keys.map((k) => blockOfKey(s, k))
}

/**
 * Adds (or replaces) a peer with its BEP 3 bitfield. Replacing first removes
 * the old entry, so its in-flight blocks become requestable again.
 */
export const addPeer = <K>(s: State<K>, key: K, bitfield: Uint8Array): void => {
  removePeer(s, key)
  const bits = normaliseBitfield(bitfield, s.g.pieceCount)
  const peer: PeerState = {
    bits,
    haveCount: popcount(bits),
    interesting: 0,
    inflight: NO_INFLIGHT,
    pieceRefs: NO_PIECE_REFS,
    lastNew: -1
  }
  s.peers.set(key, peer)
  if (peer.haveCount === s.g.pieceCount) {
    peer.bits = null
    s.seeds++
    return
  }
  forEachBit(bits, s.g.pieceCount, (p) => bump(s, p, 1))
  peer.interesting = countInteresting(s, bits)
}

/** BEP 6 have_all (or a full bitfield). */
export const peerHasAll = <K>(s: State<K>, key: K): void => {
  const peer = s.peers.get(key)
  if (peer === undefined) {
    s.peers.set(key, { bits: null, haveCount: s.g.pieceCount, interesting: 0, inflight: NO_INFLIGHT, pieceRefs: NO_PIECE_REFS, lastNew: -1 })
    s.seeds++
  } else {
    becomeSeed(s, peer)
  }
}

/**
 * A `have` message. Returns true when this made the peer interesting to us
 * (we should send `interested`). Unknown peers and out-of-range indexes are ignored.
 */
export const peerHas = <K>(s: State<K>, key: K, piece: number): boolean => {
  const peer = s.peers.get(key)
  if (peer === undefined || peer.bits === null) return false
  if (!Number.isSafeInteger(piece) || piece < 0 || piece >= s.g.pieceCount || hasBit(peer.bits, piece)) return false
  setBit(peer.bits, piece)
  peer.haveCount++
  const was = peer.interesting > 0
  bump(s, piece, 1)
  if (peer.haveCount === s.g.pieceCount) {
    becomeSeed(s, peer)
    return !was && s.remainingWanted > 0
  }
  if (!relevant(s, piece)) return false
  peer.interesting++
  return !was
}
