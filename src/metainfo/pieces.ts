import type { Metainfo } from "./model.ts"

export interface PieceRange {
  /** Index into `files`. */
  readonly file: number
  /** First global piece index of the file. */
  readonly firstPiece: number
  /** Number of pieces (0 for empty files). */
  readonly pieceCount: number
}

/**
 * Pure v2 piece space (BEP 52): every non-empty file starts on a fresh piece,
 * so file i's pieces follow the previous file's without sharing any.
 * (For v1/hybrid, pieces map through `offset` directly.)
 */
export const v2PieceRanges = (m: Pick<Metainfo, "files" | "pieceLength">): ReadonlyArray<PieceRange> => {
  let next = 0
  return m.files.map((f, file) => {
    const pieceCount = Math.ceil(f.length / m.pieceLength)
    const range = { file, firstPiece: next, pieceCount }
    next += pieceCount
    return range
  })
}
