/**
 * Pieces being assembled from blocks, in bounded memory: the synchronous part of storing
 * a block, up to the moment a piece is complete and must be verified.
 *
 * Invariants:
 * - `partials.size + writing.size <= limit`: a block that would start a piece beyond it is
 *   refused (`Backpressure`) and nothing is stored;
 * - a piece is in at most one of `partials`, `writing` and the have set;
 * - full-size buffers whose data is written are kept in `spare` for reuse (never more than
 *   `limit`; never more than were in use at once, which the write backlog bounds) instead of
 *   left to the GC, which lets dozens of dead 1 MiB buffers pile up between collections (with
 *   the piece hasher they are SharedArrayBuffers, which V8 does not count as external memory:
 *   nothing hastens a collection for them; a spare list capped at 8 MiB let a 4 GiB download's
 *   ArrayBuffers climb to 125 MiB); once nothing wanted is missing they go too, since a seed
 *   would hold them for nothing (a 500-host simulation of a 1 MiB torrent peaked at 1 618 MiB
 *   instead of 1 736).
 */
import { checkBlock } from "./checks.ts"
import type { StorageError } from "./errors.ts"
import type { PieceHashing } from "./hashing.ts"
import * as Have from "./have.ts"
import { type Layout, pieceSize } from "./layout.ts"
import { addBlock, isComplete, makePartial, makeReferencePartial, type PartialPiece } from "./partial.ts"
import type { PutResult } from "./types.ts"

/** One shared object per result: the hot path allocates none. */
export const results: { readonly [K in PutResult["_tag"]]: PutResult & { readonly _tag: K } } = {
  Incomplete: { _tag: "Incomplete" },
  Verified: { _tag: "Verified" },
  HashFailed: { _tag: "HashFailed" },
  Duplicate: { _tag: "Duplicate" },
  Backpressure: { _tag: "Backpressure" },
  Unwanted: { _tag: "Unwanted" }
}

export interface Assembly {
  readonly layout: Layout
  /** Block unit: blocks start on multiples of it. */
  readonly unit: number
  readonly limit: number
  readonly hashing: PieceHashing
  /** The backend keeps written buffers (in memory): they are never reused. */
  readonly retainsBuffers: boolean
  readonly partials: Map<number, PartialPiece>
  /** Complete pieces being hashed and written: they still hold memory, and their blocks are duplicates. */
  readonly writing: Set<number>
  readonly spare: Array<Uint8Array>
}

export const makeAssembly = (options: {
  readonly layout: Layout
  readonly unit: number
  readonly limit: number
  readonly hashing: PieceHashing
  readonly retainsBuffers: boolean
}): Assembly => ({ ...options, partials: new Map(), writing: new Set(), spare: [] })

/**
 * Stores a block. Returns the result, a validation error, or, when the block completed its
 * piece, the complete partial piece (removed from `partials`) for the caller to verify.
 */
export const accept = (
  a: Assembly,
  have: Have.HaveSet,
  piece: number,
  begin: number,
  data: Uint8Array
): PutResult | StorageError | PartialPiece => {
  const invalid = checkBlock(a.layout, a.unit, piece, begin, data.length)
  if (invalid !== undefined) return invalid
  if (Have.has(have, piece) || a.writing.has(piece)) return results.Duplicate
  if (!Have.isWanted(have, piece)) return results.Unwanted
  let partial = a.partials.get(piece)
  if (partial === undefined) {
    if (a.partials.size + a.writing.size >= a.limit) return results.Backpressure
    const size = pieceSize(a.layout, piece)
    const referable = a.hashing.referable
    if (referable !== undefined) partial = makeReferencePartial(size, a.unit, referable)
    else {
      const recycled = size === a.layout.pieceLength ? a.spare.pop() : undefined
      partial = makePartial(recycled ?? a.hashing.allocate(size), a.unit, a.hashing.feedsSha1)
    }
    a.partials.set(piece, partial)
  }
  if (!addBlock(partial, begin, data)) return results.Duplicate
  if (!isComplete(partial)) return results.Incomplete
  a.partials.delete(piece)
  return partial
}

/** Whether `data` might be the block that completes `piece` (a valid index). */
export const mayComplete = (a: Assembly, piece: number, data: Uint8Array): boolean => {
  const partial = a.partials.get(piece)
  const units = Math.ceil(data.length / a.unit)
  return partial === undefined
    ? units >= Math.ceil(pieceSize(a.layout, piece) / a.unit)
    : partial.receivedCount + units >= partial.received.length
}

/** A buffer nobody needs any more (written to disk, or its piece failed its hash check). */
export const recycle = (a: Assembly, have: Have.HaveSet, buffer: Uint8Array): void => {
  if (have.missingWanted === 0) a.spare.length = 0
  else if (!a.retainsBuffers && buffer.length === a.layout.pieceLength && a.spare.length < a.limit) a.spare.push(buffer)
}

/** Drops the partial pieces the have set has or no longer wants. */
export const prune = (a: Assembly, have: Have.HaveSet): void => {
  for (const piece of a.partials.keys()) {
    if (Have.has(have, piece) || !Have.isWanted(have, piece)) a.partials.delete(piece)
  }
}

export const clear = (a: Assembly): void => {
  a.partials.clear()
}
