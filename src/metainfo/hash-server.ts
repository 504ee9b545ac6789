/**
 * What a torrent answers BEP 52 hash requests with, pure: the files whose piece layers it
 * holds, each file's upper layers built on its first request and kept. A piece-layer request
 * is answered at once (`answerHashRequest`); a leaf request names the pieces to read back and
 * finishes from their block hashes (`leaf-hashes.ts`); the caller does the reading. A root we
 * do not know, or a file without a piece layer (one piece or less: the root is all there
 * is), is rejected.
 */
import { toHex } from "../bytes.ts"
import { answerHashRequest, fileTree, type FileTree, type HashRange, treeLayers } from "./hash-tree.ts"
import { answerLeafRequest, leafRequestPieces } from "./leaf-hashes.ts"
import type { Metainfo } from "./model.ts"
import { v2PieceRanges } from "./pieces.ts"

/** A leaf request: read these pieces (torrent piece index, bytes of data), hash their blocks, then `finish`. */
export interface LeafRead {
  readonly _tag: "ReadLeaves"
  readonly pieces: ReadonlyArray<{ readonly piece: number; readonly length: number }>
  /** The answer from the pieces' block hashes (`blockLeaves` of each, concatenated), or why we reject. */
  readonly finish: (leaves: Uint8Array) => Uint8Array | string
}

/** The hashes to send, why we reject the request, or the pieces a leaf request needs read. */
export type HashAnswer = Uint8Array | string | LeafRead

interface ServedFile {
  readonly tree: FileTree
  readonly layer: Uint8Array
  /** The torrent's index of the file's first piece (v2 files start on a piece boundary). */
  readonly firstPiece: number
  readonly length: number
}

export const makeHashServer = (meta: Metainfo): ((range: HashRange) => HashAnswer) => {
  const files = new Map<string, ServedFile>()
  for (const { file, firstPiece } of v2PieceRanges(meta)) {
    const f = meta.files[file]
    if (f === undefined || f.piecesRoot === null || f.length <= meta.pieceLength) continue
    const layer = meta.pieceLayers.get(toHex(f.piecesRoot))
    if (layer !== undefined) {
      files.set(toHex(f.piecesRoot), { tree: fileTree(f.piecesRoot, f.length, meta.pieceLength), layer, firstPiece, length: f.length })
    }
  }
  const built = new Map<string, ReadonlyArray<Uint8Array>>()
  const layersOf = (key: string, file: ServedFile) => {
    let layers = built.get(key)
    if (layers === undefined) {
      layers = treeLayers(file.tree, file.layer, meta.pieceLength)
      built.set(key, layers)
    }
    return layers
  }
  return (range) => {
    const key = toHex(range.piecesRoot)
    const file = files.get(key)
    if (file === undefined) return "no file of ours has this pieces root with a piece layer"
    // the piece layer (the leaf layer too when pieces are 16 KiB) needs no data read back
    if (range.baseLayer !== 0 || file.tree.pieceLayer === 0) return answerHashRequest(file.tree, layersOf(key, file), range)
    const needed = leafRequestPieces(file.tree, range)
    if (typeof needed === "string") return needed
    const pieces = Array.from({ length: needed.count }, (_, j) => ({
      piece: file.firstPiece + needed.first + j,
      length: Math.min(meta.pieceLength, file.length - (needed.first + j) * meta.pieceLength)
    }))
    return { _tag: "ReadLeaves", pieces, finish: (leaves) => answerLeafRequest(file.tree, layersOf(key, file), range, leaves) }
  }
}
