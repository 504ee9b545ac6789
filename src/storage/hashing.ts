/**
 * How a torrent's completed pieces are hashed and checked.
 *
 * v1 and hybrid: SHA-1, inline (each block fed to SHA-1 as it arrives, partial.ts, so a
 * completed piece's digest is ready at once) or by a `PieceHasher` (the whole piece once
 * complete, off the JS thread, from a buffer in shared memory). Pure v2: the piece's
 * merkle root (SHA-256 of each 16 KiB block, then the subtree), inline at completion.
 * A hybrid's piece must pass both checks; one passing without the other means the
 * torrent's v1 and v2 halves describe different data, which is an error, never a silent
 * choice. The storage core asks this and never tests for a hasher or a version itself.
 */
import { Effect } from "effect"
import { bytesEqual, sha1 } from "../bytes.ts"
import { StorageError } from "./errors.ts"
import type { PieceHasherShape } from "./hasher.ts"
import { type Layout, pieceHash } from "./layout.ts"
import { allocatePiece, digest, type PartialPiece } from "./partial.ts"
import { v2Expected, v2Root } from "./v2.ts"

export interface PieceHashing {
  /** A completed piece's digest is ready synchronously (`completedSync`). */
  readonly incremental: boolean
  /** Partial pieces feed their blocks to SHA-1 as they arrive. */
  readonly feedsSha1: boolean
  /** A buffer for a piece of `size` bytes (not zero-filled). */
  readonly allocate: (size: number) => Uint8Array
  /** The digest of a completed piece (what `check` compares). */
  readonly completed: (piece: number, partial: PartialPiece) => Effect.Effect<Uint8Array>
  /** `completed` in the caller's step; only when `incremental`. */
  readonly completedSync: (piece: number, partial: PartialPiece) => Uint8Array
  /** The digest of bytes read back from storage (recheck). */
  readonly bytes: (piece: number, data: Uint8Array) => Effect.Effect<Uint8Array>
  /** Blocks are kept by reference when this says they may be (see `PieceHasherShape.blocks`). */
  readonly referable: ((data: Uint8Array) => boolean) | undefined
}

export const inlineHashing: PieceHashing = {
  incremental: true,
  feedsSha1: true,
  allocate: allocatePiece,
  completed: (_, partial) => Effect.succeed(digest(partial)),
  completedSync: (_, partial) => digest(partial),
  bytes: (_, data) => Effect.succeed(sha1(data)),
  referable: undefined
}

/** `references`: the backend stores no bytes, so blocks may be kept by reference if the hasher can hash them so. */
export const hasherHashing = (hasher: PieceHasherShape, references = false): PieceHashing => {
  const blocks = references ? hasher.blocks : undefined
  return {
    incremental: false,
    feedsSha1: false,
    allocate: hasher.allocate,
    completed: blocks === undefined
      ? (_, partial) => hasher.sha1(partial.buffer)
      : (_, partial) => (partial.blocks === undefined ? hasher.sha1(partial.buffer) : blocks.sha1(partial.blocks)),
    completedSync: (_, partial) => sha1(partial.buffer),
    bytes: (_, data) => hasher.sha1(data),
    referable: blocks?.referable
  }
}

/** Pure v2: merkle roots, computed inline when a piece completes. */
const merkleHashing = (layout: Layout): PieceHashing => {
  const root = (piece: number, data: Uint8Array) => layout.v2 === null ? new Uint8Array(32) : v2Root(layout.v2, piece, data)
  return {
    incremental: true,
    feedsSha1: false,
    allocate: allocatePiece,
    completed: (piece, partial) => Effect.sync(() => root(piece, partial.buffer)),
    completedSync: (piece, partial) => root(piece, partial.buffer),
    bytes: (piece, data) => Effect.sync(() => root(piece, data)),
    referable: undefined
  }
}

/**
 * Merkle roots for pure v2; else SHA-1, inline without a hasher, the hasher's with one
 * (blocks by reference only for v1: a hybrid's merkle check reads the piece buffer).
 */
export const pieceHashing = (layout: Layout, hasher: PieceHasherShape | undefined, references = false): PieceHashing =>
  layout.hashes.length === 0
    ? merkleHashing(layout)
    : hasher === undefined
    ? inlineHashing
    : hasherHashing(hasher, references && layout.v2 === null)

/**
 * Whether piece `piece` is right: `hash` from `PieceHashing` against the metainfo, and for
 * a hybrid its merkle root too (from `data`, the piece's bytes). A hybrid whose two checks
 * disagree is a `StorageError` ("InvalidMetainfo").
 */
export const checkPiece = (layout: Layout, piece: number, hash: Uint8Array, data: Uint8Array): boolean | StorageError => {
  if (layout.hashes.length === 0) return layout.v2 !== null && bytesEqual(hash, v2Expected(layout.v2, piece))
  const v1 = bytesEqual(hash, pieceHash(layout, piece))
  if (layout.v2 === null) return v1
  const v2 = bytesEqual(v2Root(layout.v2, piece, data), v2Expected(layout.v2, piece))
  if (v1 === v2) return v1
  return new StorageError({
    reason: "InvalidMetainfo",
    message: `hybrid torrent: piece ${piece} ${v1 ? "matches its SHA-1 but not its v2 merkle root" : "matches its v2 merkle root but not its SHA-1"}; the torrent's v1 and v2 hashes describe different data`
  })
}
