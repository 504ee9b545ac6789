/**
 * BEP 52 hash requests for the leaf layer (base layer 0: the SHA-256 of each 16 KiB block),
 * pure. A peer whose piece failed its check asks for them (libtorrent does) to find the bad
 * block, and BEP 52 forbids rejecting one that follows a request for a block in its range
 * that we served. The leaves are not kept: the pieces under the request are read back and
 * hashed. Which pieces: those under the smallest subtree holding both the requested leaves
 * and whole pieces (`span` leaves: the request's length, or a piece's blocks if more), so
 * every uncle below the piece layer can be computed from them; the uncles above come from
 * the piece layer's tree (`treeLayers`), as for a piece-layer request.
 */
import { bytesEqual } from "../bytes.ts"
import { type FileTree, type HashRange, MAX_HASHES_PER_REQUEST, uncleCount } from "./hash-tree.ts"
import { isPowerOfTwo, layersUp, log2 } from "./merkle.ts"

/** The file's pieces (from `first`, `count` of them) whose blocks answer a leaf request. */
export interface LeafPieces {
  readonly first: number
  readonly count: number
}

const spanOf = (tree: FileTree, range: HashRange) => {
  const perPiece = 2 ** tree.pieceLayer
  const span = Math.max(range.length, perPiece)
  return { perPiece, span, firstLeaf: Math.floor(range.index / span) * span }
}

/**
 * The pieces to read back for a leaf request, or why it is rejected (checked before anything
 * is read or allocated: 2 to 512 leaves, a power of two, aligned, inside the tree, no proof
 * above the root). `count` is 0 when the leaves lie wholly past the file's end (all zero).
 */
export const leafRequestPieces = (tree: FileTree, range: HashRange): LeafPieces | string => {
  const { baseLayer, index, length, proofLayers } = range
  if (baseLayer !== 0) return `base layer ${baseLayer} is not the leaf layer`
  if (length < 2 || !isPowerOfTwo(length) || length > MAX_HASHES_PER_REQUEST) {
    return `length ${length} is not a power of two from 2 to ${MAX_HASHES_PER_REQUEST}`
  }
  const width = 2 ** tree.height
  if (index % length !== 0 || index + length > width) return `leaves ${index}..${index + length} are not an aligned range of the ${width} in the tree`
  if (proofLayers > tree.height - 1) return `${proofLayers} proof layers reach above the root`
  const { perPiece, span, firstLeaf } = spanOf(tree, range)
  const first = firstLeaf / perPiece
  return { first, count: Math.max(0, Math.min(span / perPiece, tree.pieces - first)) }
}

/**
 * The answer to a leaf request from `leaves`: the block hashes of the pieces
 * `leafRequestPieces` named, in order (`blockLeaves` of each piece's data). Rejected when a
 * piece's leaves do not give its entry in the piece layer (`layers[0]`): the data on disk is
 * not what we verified, and a wrong proof would get us banned.
 */
export const answerLeafRequest = (
  tree: FileTree,
  layers: ReadonlyArray<Uint8Array>,
  range: HashRange,
  leaves: Uint8Array
): Uint8Array | string => {
  const { perPiece, span, firstLeaf } = spanOf(tree, range)
  // BEP 52: leaves past the file's end are zero hashes
  const level = new Uint8Array(32 * span)
  level.set(leaves.subarray(0, Math.min(leaves.length, level.length)))
  const sub = layersUp(level)
  const pieces = sub[tree.pieceLayer] ?? new Uint8Array(0)
  const expected = layers[0]?.subarray(32 * (firstLeaf / perPiece), 32 * (firstLeaf / perPiece) + pieces.length)
  if (expected === undefined || !bytesEqual(pieces, expected)) return "the data read back does not give the piece layer's hashes"
  const uncles = uncleCount(range)
  const out = new Uint8Array(32 * (range.length + uncles))
  out.set((sub[0] ?? new Uint8Array(0)).subarray(32 * (range.index - firstLeaf), 32 * (range.index - firstLeaf + range.length)))
  let position = range.index / range.length
  const spanLayer = log2(span)
  for (let u = 0; u < uncles; u++) {
    const layer = log2(range.length) + u
    const sibling = position ^ 1
    // below the span's root: from the leaves read back; from there up: the piece layer's tree
    const hash = layer < spanLayer
      ? sub[layer]?.subarray(32 * (sibling - firstLeaf / 2 ** layer), 32 * (sibling - firstLeaf / 2 ** layer) + 32)
      : layers[layer - tree.pieceLayer]?.subarray(32 * sibling, 32 * sibling + 32)
    if (hash === undefined || hash.length !== 32) return `no hash at layer ${layer} for uncle ${sibling}`
    out.set(hash, 32 * (range.length + u))
    position = Math.floor(position / 2)
  }
  return out
}
