/**
 * From picked blocks to HTTP requests, as pure functions.
 *
 * The picker hands a web seed 16 KiB blocks. Blocks that touch end to end in the torrent's
 * byte stream are merged into one run; a run is then cut where the files (BEP 19) or the
 * pieces (BEP 17) it crosses begin and end, one HTTP request per part. Padding files (BEP 47)
 * become parts that are never requested: their bytes are zeros by definition.
 */
import { PieceIndex } from "../ids.ts"
import type { TorrentFile } from "../metainfo/index.ts"
import type { Block } from "../scheduler/index.ts"

/** Blocks that follow each other without a gap: `length` bytes from `start` in the torrent. */
export interface Run {
  readonly start: number
  readonly length: number
  /** In the order of their bytes. */
  readonly blocks: ReadonlyArray<Block>
}

/**
 * One part of a run: `length` bytes at `at` within the run.
 * - `File`: bytes `offset`.. of file `file` (a BEP 19 Range request);
 * - `Piece`: bytes `begin`.. of piece `piece` (a BEP 17 request);
 * - `Zeros`: a padding file's bytes, never requested.
 */
export type Part =
  | { readonly _tag: "File"; readonly at: number; readonly length: number; readonly file: number; readonly offset: number }
  | { readonly _tag: "Piece"; readonly at: number; readonly length: number; readonly piece: PieceIndex; readonly begin: number }
  | { readonly _tag: "Zeros"; readonly at: number; readonly length: number }

const startOf = (pieceLength: number, b: Block): number => b.piece * pieceLength + b.begin

/** Merges blocks into runs of adjacent bytes, in byte order. */
export const mergeRuns = (blocks: ReadonlyArray<Block>, pieceLength: number): ReadonlyArray<Run> => {
  const sorted = [...blocks].sort((a, b) => startOf(pieceLength, a) - startOf(pieceLength, b))
  const runs: Array<Run> = []
  let current: { start: number; length: number; blocks: Array<Block> } | undefined
  for (const b of sorted) {
    const start = startOf(pieceLength, b)
    if (current !== undefined && current.start + current.length === start) {
      current.length += b.length
      current.blocks.push(b)
      continue
    }
    if (current !== undefined) runs.push(current)
    current = { start, length: b.length, blocks: [b] }
  }
  if (current !== undefined) runs.push(current)
  return runs
}

/** Index of the file holding byte `offset` (files sorted by offset; empty files never hold one). */
const fileAt = (files: ReadonlyArray<TorrentFile>, offset: number): number => {
  let lo = 0
  let hi = files.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    const f = files[mid]
    if (f !== undefined && f.offset <= offset) lo = mid
    else hi = mid - 1
  }
  // Empty files share their offset with the next file: step past them.
  while (lo < files.length - 1 && (files[lo]?.length ?? 0) === 0) lo++
  return lo
}

/** The run cut at file boundaries (BEP 19); padding files become `Zeros`. */
export const fileParts = (files: ReadonlyArray<TorrentFile>, run: { readonly start: number; readonly length: number }): ReadonlyArray<Part> => {
  const parts: Array<Part> = []
  let at = 0
  let i = fileAt(files, run.start)
  while (at < run.length) {
    const f = files[i]
    if (f === undefined) break
    const offset = run.start + at - f.offset
    const length = Math.min(f.length - offset, run.length - at)
    if (length > 0) {
      parts.push(f.padding ? { _tag: "Zeros", at, length } : { _tag: "File", at, length, file: i, offset })
      at += length
    }
    i++
  }
  return parts
}

/** The run cut at piece boundaries (BEP 17 asks for one piece per request). */
export const pieceParts = (pieceLength: number, run: { readonly start: number; readonly length: number }): ReadonlyArray<Part> => {
  const parts: Array<Part> = []
  let at = 0
  while (at < run.length) {
    const position = run.start + at
    const piece = PieceIndex(Math.floor(position / pieceLength))
    const begin = position - piece * pieceLength
    const length = Math.min(pieceLength - begin, run.length - at)
    parts.push({ _tag: "Piece", at, length, piece, begin })
    at += length
  }
  return parts
}
