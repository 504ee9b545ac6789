/**
 * Assembling a torrent's info dict from BEP 9 metadata pieces sent by several peers.
 * Pure data and functions: no IO, no clock (callers pass `now`), so every decision
 * (who is asked for what, what is accepted, who is banned) is unit- and property-testable.
 *
 * Invariants:
 * - `size` is the metadata size being assembled, or undefined until a usable peer is
 *   known. It is chosen from the first peer (in arrival order) still present, so a peer
 *   announcing another size waits ("parked") instead of being asked; after a hash
 *   mismatch the choice is made again among the peers left.
 * - Nothing is ever allocated from a size above `maxMetadataSize`: such peers are refused
 *   in `addPeer`, before any array exists. `pieces` has exactly `pieceCount(size)` slots and
 *   each stored piece has exactly its expected length (16 KiB, the last one shorter).
 * - A piece is requested from at most one peer at a time (`requests`), always from a peer
 *   announcing `size`, that has not rejected it, with fewer than `perPeer` requests out.
 *   `requests` and the peers' `inflight` sets describe the same pairs.
 * - `received` is the byte count of the stored pieces.
 * - A banned key never comes back: `addPeer` refuses it.
 * - Bans are certain: a peer is banned for metadata failing the hash only when it sent all
 *   of it. When several peers contributed to a bad assembly nobody can tell the liar, so
 *   nobody is banned; from then on (`singleSource`) each attempt takes every piece from one
 *   peer (`solo`), and the next failure names its sender. A liar therefore cannot get an
 *   honest peer banned, and is banned itself after at most one mixed attempt.
 */
import { METADATA_PIECE_SIZE, metadataPieceCount } from "../wire/index.ts"

export type PeerKey = string

export interface AssemblyOptions {
  /** Largest metadata_size accepted. */
  readonly maxMetadataSize: number
  /** Requests outstanding per peer. */
  readonly perPeer: number
  /** True when the complete metadata hashes to the magnet's info-hash(es). */
  readonly verify: (metadata: Uint8Array) => boolean
}

interface PeerEntry {
  readonly size: number
  readonly inflight: Set<number>
  readonly rejected: Set<number>
}

interface Outstanding {
  readonly peer: PeerKey
  readonly at: number
}

export interface Assembly {
  readonly options: AssemblyOptions
  size: number | undefined
  pieces: Array<Uint8Array | undefined>
  /** Who sent each stored piece. */
  from: Array<PeerKey | undefined>
  readonly requests: Map<number, Outstanding>
  /** Insertion order = arrival order (the size choice depends on it). */
  readonly peers: Map<PeerKey, PeerEntry>
  readonly banned: Set<PeerKey>
  received: number
  complete: boolean
  singleSource: boolean
  /** In single-source mode: the one peer asked, once chosen. */
  solo: PeerKey | undefined
}

export interface PieceRequest {
  readonly peer: PeerKey
  readonly piece: number
}

export type AddPeerResult =
  | { readonly _tag: "Added" }
  | { readonly _tag: "Refused"; readonly reason: string }

export type DataResult =
  /** Not an answer we are waiting for (late, unsolicited, from a removed peer): dropped. */
  | { readonly _tag: "Ignored" }
  | { readonly _tag: "Stored" }
  /** The peer broke BEP 9: it is banned and what it sent before is discarded. */
  | { readonly _tag: "Violation"; readonly reason: string }
  | { readonly _tag: "Complete"; readonly metadata: Uint8Array }
  /**
   * All pieces arrived but the hash is wrong: everything was discarded. `banned` is the
   * sender when there was only one, else empty (see single-source mode above).
   */
  | { readonly _tag: "HashMismatch"; readonly contributors: ReadonlyArray<PeerKey>; readonly banned: ReadonlyArray<PeerKey> }

export type RejectResult =
  | { readonly _tag: "Ignored" }
  /** `useless`: the peer rejected every piece still missing, asking it again is pointless. */
  | { readonly _tag: "Rejected"; readonly useless: boolean }

export const makeAssembly = (options: AssemblyOptions): Assembly => ({
  options,
  size: undefined,
  pieces: [],
  from: [],
  requests: new Map(),
  peers: new Map(),
  banned: new Set(),
  received: 0,
  complete: false,
  singleSource: false,
  solo: undefined
})

/** Expected length of piece `index` of metadata of `size` bytes. */
export const pieceLength = (size: number, index: number): number =>
  Math.min(METADATA_PIECE_SIZE, size - index * METADATA_PIECE_SIZE)

export const addPeer = (a: Assembly, key: PeerKey, metadataSize: number | undefined): AddPeerResult => {
  if (a.banned.has(key)) return { _tag: "Refused", reason: "banned earlier in this fetch" }
  if (a.peers.has(key)) return { _tag: "Refused", reason: "already connected" }
  if (metadataSize === undefined) return { _tag: "Refused", reason: "no metadata_size in its extended handshake" }
  if (!Number.isSafeInteger(metadataSize) || metadataSize <= 0) {
    return { _tag: "Refused", reason: `invalid metadata_size ${metadataSize}` }
  }
  if (metadataSize > a.options.maxMetadataSize) {
    return { _tag: "Refused", reason: `metadata_size ${metadataSize} is above the limit of ${a.options.maxMetadataSize} bytes` }
  }
  a.peers.set(key, { size: metadataSize, inflight: new Set(), rejected: new Set() })
  return { _tag: "Added" }
}

const discardFrom = (a: Assembly, keys: ReadonlySet<PeerKey>): void => {
  for (let i = 0; i < a.from.length; i++) {
    const sender = a.from[i]
    const piece = a.pieces[i]
    if (sender !== undefined && keys.has(sender) && piece !== undefined) {
      a.received -= piece.length
      a.pieces[i] = undefined
      a.from[i] = undefined
    }
  }
}

const release = (a: Assembly, key: PeerKey, peer: PeerEntry): void => {
  for (const piece of peer.inflight) {
    if (a.requests.get(piece)?.peer === key) a.requests.delete(piece)
  }
  peer.inflight.clear()
}

/** The peer is gone (closed, timed out, useless): its requests go back to the pool. */
export const removePeer = (a: Assembly, key: PeerKey): void => {
  const peer = a.peers.get(key)
  if (peer === undefined) return
  release(a, key, peer)
  a.peers.delete(key)
  if (a.solo === key) {
    // The next solo peer starts afresh, so a failure still names a single sender.
    a.solo = undefined
    discardFrom(a, new Set([key]))
  }
}

/** Bans the peer and forgets what it sent (it cannot be trusted). */
export const banPeer = (a: Assembly, key: PeerKey): void => {
  removePeer(a, key)
  a.banned.add(key)
  discardFrom(a, new Set([key]))
}

const chooseSize = (a: Assembly): number | undefined => {
  if (a.size !== undefined) return a.size
  const first = a.peers.values().next()
  if (first.done === true) return undefined
  a.size = first.value.size
  const count = metadataPieceCount(a.size)
  a.pieces = new Array<Uint8Array | undefined>(count).fill(undefined)
  a.from = new Array<PeerKey | undefined>(count).fill(undefined)
  return a.size
}

/**
 * Hands out every piece that is neither stored nor requested to the eligible peer with the
 * fewest requests out (ties: earliest arrival), so pieces spread over peers. Records the
 * requests as sent at `now`; the caller must send them.
 */
export const schedule = (a: Assembly, now: number): ReadonlyArray<PieceRequest> => {
  if (a.complete) return []
  const size = chooseSize(a)
  if (size === undefined) return []
  const out: Array<PieceRequest> = []
  for (let piece = 0; piece < a.pieces.length; piece++) {
    if (a.pieces[piece] !== undefined || a.requests.has(piece)) continue
    let best: [PeerKey, PeerEntry] | undefined
    for (const entry of a.peers) {
      const peer = entry[1]
      if (a.solo !== undefined && entry[0] !== a.solo) continue
      if (peer.size !== size || peer.inflight.size >= a.options.perPeer || peer.rejected.has(piece)) continue
      if (best === undefined || peer.inflight.size < best[1].inflight.size) best = entry
    }
    if (best === undefined) continue
    if (a.singleSource) a.solo = best[0]
    best[1].inflight.add(piece)
    a.requests.set(piece, { peer: best[0], at: now })
    out.push({ peer: best[0], piece })
  }
  return out
}

const concat = (pieces: ReadonlyArray<Uint8Array | undefined>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const piece of pieces) {
    if (piece === undefined) continue
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}

const reset = (a: Assembly): void => {
  a.size = undefined
  a.pieces = []
  a.from = []
  a.received = 0
  a.solo = undefined
  a.requests.clear()
  for (const peer of a.peers.values()) {
    peer.inflight.clear()
    peer.rejected.clear()
  }
}

/** A `data` message: piece `piece` of `totalSize` bytes from `key`. `data` is copied when kept. */
export const onData = (a: Assembly, key: PeerKey, piece: number, totalSize: number, data: Uint8Array): DataResult => {
  const peer = a.peers.get(key)
  const size = a.size
  if (peer === undefined || size === undefined || a.complete) return { _tag: "Ignored" }
  if (a.requests.get(piece)?.peer !== key) return { _tag: "Ignored" }
  const violation = (reason: string): DataResult => {
    banPeer(a, key)
    return { _tag: "Violation", reason }
  }
  if (totalSize !== size) return violation(`total_size ${totalSize} differs from the metadata_size ${size} it announced`)
  const expected = pieceLength(size, piece)
  if (data.length !== expected) return violation(`metadata piece ${piece} has ${data.length} bytes, expected ${expected}`)
  a.requests.delete(piece)
  peer.inflight.delete(piece)
  a.pieces[piece] = data.slice()
  a.from[piece] = key
  a.received += expected
  if (a.received < size) return { _tag: "Stored" }
  const metadata = concat(a.pieces, size)
  if (a.options.verify(metadata)) {
    a.complete = true
    return { _tag: "Complete", metadata }
  }
  const contributors = [...new Set(a.from.filter((k): k is PeerKey => k !== undefined))]
  const banned = contributors.length === 1 ? contributors : []
  reset(a)
  for (const k of banned) banPeer(a, k)
  a.singleSource = true
  return { _tag: "HashMismatch", contributors, banned }
}

/** A `reject` message: the peer will not send `piece` (it lacks the metadata, or limits us). */
export const onReject = (a: Assembly, key: PeerKey, piece: number): RejectResult => {
  const peer = a.peers.get(key)
  if (peer === undefined || a.requests.get(piece)?.peer !== key) return { _tag: "Ignored" }
  a.requests.delete(piece)
  peer.inflight.delete(piece)
  peer.rejected.add(piece)
  let useless = true
  for (let i = 0; i < a.pieces.length; i++) {
    if (a.pieces[i] === undefined && !peer.rejected.has(i)) useless = false
  }
  return { _tag: "Rejected", useless }
}

/** Peers holding a request older than `timeoutMillis`: the caller drops them (`removePeer`). */
export const expiredPeers = (a: Assembly, now: number, timeoutMillis: number): ReadonlyArray<PeerKey> => {
  const out = new Set<PeerKey>()
  for (const request of a.requests.values()) {
    if (now - request.at >= timeoutMillis) out.add(request.peer)
  }
  return [...out]
}

export interface MetadataProgress {
  /** Connected peers offering the metadata. */
  readonly peers: number
  /** Metadata bytes received and kept. */
  readonly received: number
  /** Metadata size being assembled; 0 while unknown. */
  readonly total: number
}

export const progress = (a: Assembly): MetadataProgress => ({
  peers: a.peers.size,
  received: a.received,
  total: a.size ?? 0
})
