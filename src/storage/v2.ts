/**
 * BEP 52 piece checks: what a v2 (or hybrid) piece's merkle root must be, from the files'
 * pieces roots and piece layers. A file's piece i is checked against entry i of its piece
 * layer; a file of one piece or less has no layer and is checked against its pieces root
 * directly (a tree of as many leaves as the file needs, rounded up to a power of two).
 */
import { toHex } from "../bytes.ts"
import { BLOCK_SIZE, nextPowerOfTwo, pieceRoot } from "../metainfo/merkle.ts"
import type { Metainfo } from "../metainfo/model.ts"
import { v2PieceRanges } from "../metainfo/pieces.ts"

export interface V2Check {
  /** The expected root of each piece, 32 bytes per piece (zero for pieces no file owns). */
  readonly expected: Uint8Array
  /** Bytes of real data at the start of each piece (the rest is padding, not hashed). */
  readonly dataLength: Uint32Array
  /** Leaves in each piece's subtree (a power of two). */
  readonly width: Uint32Array
}

/** The checks of a v2/hybrid torrent, or why it cannot be checked (a piece layer is missing). */
export const makeV2Check = (meta: Metainfo): V2Check | string => {
  const { pieceLength, pieceCount } = meta
  const expected = new Uint8Array(32 * pieceCount)
  const dataLength = new Uint32Array(pieceCount)
  const width = new Uint32Array(pieceCount)
  const perPiece = pieceLength / BLOCK_SIZE
  for (const range of v2PieceRanges(meta)) {
    const file = meta.files[range.file]
    if (file === undefined || range.pieceCount === 0) continue
    const root = file.piecesRoot
    if (root === null) return `file ${file.path.join("/")} has no pieces root`
    if (range.firstPiece + range.pieceCount > pieceCount) return `file ${file.path.join("/")} lies past the last piece`
    if (range.pieceCount === 1) {
      expected.set(root, 32 * range.firstPiece)
      dataLength[range.firstPiece] = file.length
      width[range.firstPiece] = nextPowerOfTwo(Math.ceil(file.length / BLOCK_SIZE))
      continue
    }
    const layer = meta.pieceLayers.get(toHex(root))
    if (layer === undefined) return `the piece layer of ${file.path.join("/")} is missing`
    expected.set(layer, 32 * range.firstPiece)
    for (let j = 0; j < range.pieceCount; j++) {
      dataLength[range.firstPiece + j] = Math.min(pieceLength, file.length - j * pieceLength)
      width[range.firstPiece + j] = perPiece
    }
  }
  return { expected, dataLength, width }
}

/** The merkle root of piece `piece` from its bytes (`data` may be longer: padding is cut off). */
export const v2Root = (check: V2Check, piece: number, data: Uint8Array): Uint8Array =>
  pieceRoot(data.subarray(0, check.dataLength[piece] ?? 0), check.width[piece] ?? 1)

/** The root piece `piece` must have. */
export const v2Expected = (check: V2Check, piece: number): Uint8Array =>
  check.expected.subarray(32 * piece, 32 * piece + 32)
