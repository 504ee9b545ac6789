/**
 * How a torrent's completed pieces are hashed: inline (each block fed to SHA-1 as it
 * arrives, partial.ts, so a completed piece's digest is ready at once) or by a
 * `PieceHasher` (the whole piece once complete, off the JS thread, from a buffer in
 * shared memory). The storage core asks this and never tests for a hasher itself.
 */
import { Effect } from "effect"
import { bytesEqual, sha1 } from "../bytes.ts"
import type { PieceHasherShape } from "./hasher.ts"
import { type Layout, pieceHash } from "./layout.ts"
import { allocatePiece, digest, type PartialPiece } from "./partial.ts"

export interface PieceHashing {
  /** Blocks are hashed as they arrive: a completed piece can be verified synchronously. */
  readonly incremental: boolean
  /** A buffer for a piece of `size` bytes (not zero-filled). */
  readonly allocate: (size: number) => Uint8Array
  /** SHA-1 of a completed piece. */
  readonly completed: (partial: PartialPiece) => Effect.Effect<Uint8Array>
  /** SHA-1 of bytes read back from storage (recheck). */
  readonly bytes: (data: Uint8Array) => Effect.Effect<Uint8Array>
  /** Blocks are kept by reference when this says they may be (see `PieceHasherShape.blocks`). */
  readonly referable: ((data: Uint8Array) => boolean) | undefined
}

export const inlineHashing: PieceHashing = {
  incremental: true,
  allocate: allocatePiece,
  completed: (partial) => Effect.succeed(digest(partial)),
  bytes: (data) => Effect.succeed(sha1(data)),
  referable: undefined
}

/** `references`: the backend stores no bytes, so blocks may be kept by reference if the hasher can hash them so. */
export const hasherHashing = (hasher: PieceHasherShape, references = false): PieceHashing => {
  const blocks = references ? hasher.blocks : undefined
  return {
    incremental: false,
    allocate: hasher.allocate,
    completed: blocks === undefined
      ? (partial) => hasher.sha1(partial.buffer)
      : (partial) => (partial.blocks === undefined ? hasher.sha1(partial.buffer) : blocks.sha1(partial.blocks)),
    bytes: hasher.sha1,
    referable: blocks?.referable
  }
}

/** Inline hashing without one, the hasher's with one. */
export const pieceHashing = (hasher: PieceHasherShape | undefined, references = false): PieceHashing =>
  hasher === undefined ? inlineHashing : hasherHashing(hasher, references)

/** Whether `hash` is the piece's SHA-1 from the metainfo. */
export const hashMatches = (layout: Layout, piece: number, hash: Uint8Array): boolean =>
  bytesEqual(hash, pieceHash(layout, piece))
