/**
 * Piece/block geometry and bitfield helpers shared by the picker.
 *
 * A torrent payload of `totalSize` bytes is cut into `pieceCount` pieces of
 * `pieceLength` bytes (the last one shorter), and every piece into 16 KiB
 * blocks (the last block of the last piece shorter): the unit of a `request`.
 */
import { PieceIndex } from "../ids.ts"
import { pieceSize } from "../metainfo/pieces.ts"

export const BLOCK_SIZE = 16384

export interface Geometry {
  readonly pieceCount: number
  readonly pieceLength: number
  readonly totalSize: number
}

/** One request unit: `length` bytes at `begin` inside piece `piece`. */
export interface Block {
  readonly piece: PieceIndex
  readonly begin: number
  readonly length: number
}

/** Why a geometry is unusable, or null when it is fine. */
export const geometryProblem = (g: Geometry): string | null => {
  if (!Number.isSafeInteger(g.pieceLength) || g.pieceLength <= 0) return `pieceLength must be a positive integer, got ${g.pieceLength}`
  if (!Number.isSafeInteger(g.totalSize) || g.totalSize <= 0) return `totalSize must be a positive integer, got ${g.totalSize}`
  const expected = Math.ceil(g.totalSize / g.pieceLength)
  if (g.pieceCount !== expected) return `pieceCount must be ceil(totalSize / pieceLength) = ${expected}, got ${g.pieceCount}`
  return null
}

export { pieceSize }

export const blocksInPiece = (g: Geometry, piece: number): number => Math.ceil(pieceSize(g, piece) / BLOCK_SIZE)

export const blockLength = (g: Geometry, piece: number, blockIndex: number): number =>
  Math.min(BLOCK_SIZE, pieceSize(g, piece) - blockIndex * BLOCK_SIZE)

/** All blocks of a piece, in order. */
export const pieceBlocks = (g: Geometry, piece: number): Array<Block> => {
  const out: Array<Block> = []
  const n = blocksInPiece(g, piece)
  for (let i = 0; i < n; i++) out.push({ piece: PieceIndex(piece), begin: i * BLOCK_SIZE, length: blockLength(g, piece, i) })
  return out
}

/** BEP 3 bitfield test: bit 7 of byte 0 is piece 0. Out-of-range reads are false. */
export const hasBit = (bits: Uint8Array, index: number): boolean => ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0

export const setBit = (bits: Uint8Array, index: number): void => {
  const i = index >> 3
  const b = bits[i]
  if (b !== undefined) bits[i] = b | (0x80 >> (index & 7))
}

/** A bitfield with bits 0..count-1 set as `f` says. */
export const makeBitfield = (count: number, f: (index: number) => boolean): Uint8Array => {
  const bits = new Uint8Array(Math.ceil(count / 8))
  for (let i = 0; i < count; i++) if (f(i)) setBit(bits, i)
  return bits
}

/**
 * Normalised copy of an untrusted bitfield: exactly ceil(count / 8) bytes,
 * missing bytes zero, spare bits after `count` cleared (BEP 3 says they must be
 * zero; we ignore them rather than count phantom pieces).
 */
export const normaliseBitfield = (bits: Uint8Array, count: number): Uint8Array => {
  const out = new Uint8Array(Math.ceil(count / 8))
  out.set(bits.subarray(0, out.length))
  const spare = out.length * 8 - count
  const lastIndex = out.length - 1
  const last = out[lastIndex]
  if (spare > 0 && last !== undefined) out[lastIndex] = last & ((0xff << spare) & 0xff)
  return out
}

export const popcount = (bits: Uint8Array): number => {
  let n = 0
  for (const byte of bits) {
    let v = byte
    while (v !== 0) {
      v &= v - 1
      n++
    }
  }
  return n
}

export interface FileSpan {
  readonly offset: number
  readonly length: number
  readonly padding: boolean
}

/**
 * Per-piece wanted flags from per-file priorities (0 = skip, anything else =
 * download; a file without an entry in `priorities` is wanted).
 *
 * A piece is wanted when any wanted, non-padding file overlaps it, so a piece
 * shared by a wanted and a skipped file is downloaded (we cannot verify half a
 * piece). BEP 47 padding files never make a piece wanted: they are zeros that
 * exist only to align the next file.
 */
export const wantedPiecesFromFiles = (
  files: ReadonlyArray<FileSpan>,
  pieceLength: number,
  pieceCount: number,
  priorities: ReadonlyArray<number>
): Array<boolean> => {
  const wanted = new Array<boolean>(pieceCount).fill(false)
  files.forEach((file, i) => {
    if (file.padding || file.length <= 0 || (priorities[i] ?? 1) === 0) return
    const first = Math.floor(file.offset / pieceLength)
    const last = Math.min(pieceCount - 1, Math.floor((file.offset + file.length - 1) / pieceLength))
    for (let p = Math.max(0, first); p <= last; p++) wanted[p] = true
  })
  return wanted
}
