/** Range and alignment checks of block writes and reads: the storage's input validation. Pure. */
import { StorageError } from "./errors.ts"
import { type Layout, pieceSize } from "./layout.ts"
import { isAligned } from "./partial.ts"

export const outOfRange = (message: string) => new StorageError({ reason: "OutOfRange", message })

export const isIndex = (n: number, bound: number): boolean => Number.isSafeInteger(n) && n >= 0 && n < bound

/** A block to store: inside its piece, starting on a `unit` boundary, covering whole units (or ending at the piece end). */
export const checkBlock = (layout: Layout, unit: number, piece: number, begin: number, length: number): StorageError | undefined => {
  if (!isIndex(piece, layout.pieceCount)) return outOfRange(`piece index ${piece} is not in [0, ${layout.pieceCount})`)
  const size = pieceSize(layout, piece)
  if (!Number.isSafeInteger(begin) || begin < 0 || length <= 0 || begin + length > size) {
    return outOfRange(`block (piece ${piece}, begin ${begin}, length ${length}) is outside the piece (${size} bytes)`)
  }
  if (!isAligned(size, unit, begin, length)) {
    return outOfRange(`block (piece ${piece}, begin ${begin}, length ${length}) is not aligned to ${unit}-byte blocks`)
  }
  return undefined
}

/** A read: any non-empty range inside the piece. */
export const checkRead = (layout: Layout, piece: number, begin: number, length: number): StorageError | undefined => {
  if (!isIndex(piece, layout.pieceCount)) return outOfRange(`piece index ${piece} is not in [0, ${layout.pieceCount})`)
  const size = pieceSize(layout, piece)
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length <= 0 || begin + length > size) {
    return outOfRange(`read (piece ${piece}, begin ${begin}, length ${length}) is outside the piece (${size} bytes)`)
  }
  return undefined
}
