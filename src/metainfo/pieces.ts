import type { Metainfo } from "./model.ts"

/** The length of piece `piece`: `pieceLength`, the last one shorter. */
export const pieceSize = (m: Pick<Metainfo, "pieceCount" | "pieceLength" | "totalSize">, piece: number): number =>
  piece === m.pieceCount - 1 ? m.totalSize - piece * m.pieceLength : m.pieceLength

export interface PieceRange {
  /** Index into `files`. */
  readonly file: number
  /** First global piece index of the file. */
  readonly firstPiece: number
  /** Number of pieces (0 for empty files). */
  readonly pieceCount: number
}

/**
 * BEP 52 piece space (v2 and hybrid): every non-empty file starts on a fresh piece (the
 * padding before it, implicit in pure v2, is in `files`), so file i's pieces follow the
 * previous file's without sharing any. Padding files own no pieces.
 */
export const v2PieceRanges = (m: Pick<Metainfo, "files" | "pieceLength">): ReadonlyArray<PieceRange> =>
  m.files.map((f, file) => ({
    file,
    firstPiece: Math.ceil(f.offset / m.pieceLength),
    pieceCount: f.padding ? 0 : Math.ceil(f.length / m.pieceLength)
  }))
