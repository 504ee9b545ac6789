/**
 * BEP 52 hash requests over one file's merkle tree (the messages hash request / hashes /
 * hash reject, ids 21-23), pure: which requests fetch a file's piece layer, whether a
 * `hashes` answer proves itself against the file's pieces root, and the answer we give from
 * a piece layer we hold.
 *
 * Layers are counted from the leaves (16 KiB blocks, layer 0) up; a file of `leaves` leaves
 * (its block count rounded up to a power of two) has its root at layer `height =
 * log2(leaves)`, and its piece layer at `pieceLayer = log2(pieceLength / 16 KiB)`.
 * A request names `length` hashes (a power of two) of layer `baseLayer` from `index` (a
 * multiple of `length`), and `proofLayers` uncle layers above them; the uncles of the
 * layers the hashes already cover (the first log2(length) - 1) are omitted, so the answer
 * holds `length + max(0, proofLayers - log2(length) + 1)` hashes: the base hashes, then one
 * uncle per layer, the one nearest the base first.
 */
import { bytesEqual } from "../bytes.ts"
import { BLOCK_SIZE, hashPair, isPowerOfTwo, layersUp, leavesRoot, log2, nextPowerOfTwo, zeroSubtreeRoot } from "./merkle.ts"

/** The range of a hash request (and of the hashes / hash reject answering it). */
export interface HashRange {
  readonly piecesRoot: Uint8Array
  readonly baseLayer: number
  readonly index: number
  readonly length: number
  readonly proofLayers: number
}

/** The geometry of one file's tree. */
export interface FileTree {
  readonly root: Uint8Array
  /** Pieces in the file (entries of its piece layer). */
  readonly pieces: number
  /** The layer of piece hashes. */
  readonly pieceLayer: number
  /** The root's layer. */
  readonly height: number
}

/** Piece-layer hashes asked for at once; BEP 52: a request SHOULD NOT ask for more. */
export const MAX_HASHES_PER_REQUEST = 512


/** The tree of a file of `length` bytes (more than one piece: smaller files have no piece layer). */
export const fileTree = (root: Uint8Array, length: number, pieceLength: number): FileTree => ({
  root,
  pieces: Math.ceil(length / pieceLength),
  pieceLayer: log2(pieceLength / BLOCK_SIZE),
  height: log2(nextPowerOfTwo(Math.ceil(length / BLOCK_SIZE)))
})

/** Uncle hashes a `hashes` answer to `range` carries. */
export const uncleCount = (range: Pick<HashRange, "length" | "proofLayers">): number =>
  Math.max(0, range.proofLayers - log2(range.length) + 1)

/**
 * The requests that fetch a file's whole piece layer, each proved up to the root: buckets
 * of 512 hashes, as libtorrent asks for them (it accepts no other split of a piece layer).
 */
export const pieceLayerRequests = (tree: FileTree): Array<HashRange> => {
  const out: Array<HashRange> = []
  for (let index = 0; index < tree.pieces; index += MAX_HASHES_PER_REQUEST) {
    const length = Math.min(MAX_HASHES_PER_REQUEST, Math.max(2, nextPowerOfTwo(tree.pieces - index)))
    out.push({ piecesRoot: tree.root, baseLayer: tree.pieceLayer, index, length, proofLayers: tree.height - tree.pieceLayer - 1 })
  }
  return out
}

/**
 * Checks a `hashes` answer to `range` (one of `pieceLayerRequests(tree)`): the count, then
 * the base hashes folded into their subtree's root and climbed to the top with the uncles
 * must give the file's pieces root. Returns the real pieces' hashes (a copy: `hashes` may be
 * a view of a frame), or why the answer is wrong.
 */
export const verifyHashes = (tree: FileTree, range: HashRange, hashes: Uint8Array): Uint8Array | string => {
  const uncles = uncleCount(range)
  const expected = 32 * (range.length + uncles)
  if (hashes.length !== expected) return `${hashes.length / 32} hashes for a request of ${expected / 32}`
  // (a range's length is a power of two: its base hashes fill their subtree)
  let node = leavesRoot(hashes.subarray(0, 32 * range.length), range.length)
  let position = range.index / range.length
  for (let u = 0; u < uncles; u++) {
    const uncle = hashes.subarray(32 * (range.length + u), 32 * (range.length + u) + 32)
    node = position % 2 === 0 ? hashPair(node, uncle) : hashPair(uncle, node)
    position = Math.floor(position / 2)
  }
  if (!bytesEqual(node, tree.root)) return "the hashes do not prove the file's pieces root"
  const real = Math.max(0, Math.min(range.length, tree.pieces - range.index))
  return hashes.slice(0, 32 * real)
}

/**
 * Every layer of a file's tree from its piece layer up to the root, padded (the piece
 * layer with roots of all-zero pieces). Built once per file we serve; 64 bytes per piece.
 */
export const treeLayers = (tree: FileTree, pieceLayer: Uint8Array, pieceLength: number): ReadonlyArray<Uint8Array> => {
  const width = 2 ** (tree.height - tree.pieceLayer)
  const pad = zeroSubtreeRoot(pieceLength / BLOCK_SIZE)
  const base = new Uint8Array(32 * width)
  base.set(pieceLayer.subarray(0, 32 * Math.min(width, pieceLayer.length / 32)))
  for (let i = pieceLayer.length / 32; i < width; i++) base.set(pad, 32 * i)
  return layersUp(base)
}

/**
 * Our answer to a request for `tree` from its `layers` (`treeLayers`): the hashes to send,
 * or why we reject it. This serves the piece layer (with proofs up to the root); leaf
 * requests need the data read back (leaf-hashes.ts, hash-server.ts). Every size is
 * checked before anything is allocated: 2 to 512 hashes (a power of two), inside the layer,
 * aligned, and no proof above the root.
 */
export const answerHashRequest = (tree: FileTree, layers: ReadonlyArray<Uint8Array>, range: HashRange): Uint8Array | string => {
  const { baseLayer, index, length, proofLayers } = range
  if (baseLayer !== tree.pieceLayer) return `base layer ${baseLayer}: we serve only the piece layer (${tree.pieceLayer})`
  // BEP 52: "Length MUST be equal-to-or-greater-than two and a power of two".
  if (length < 2 || !isPowerOfTwo(length) || length > MAX_HASHES_PER_REQUEST) {
    return `length ${length} is not a power of two from 2 to ${MAX_HASHES_PER_REQUEST}`
  }
  const base = layers[0]
  const width = base === undefined ? 0 : base.length / 32
  if (index % length !== 0 || index + length > width) return `hashes ${index}..${index + length} are not an aligned range of the ${width} in the layer`
  if (proofLayers > tree.height - baseLayer - 1) return `${proofLayers} proof layers reach above the root`
  const uncles = uncleCount(range)
  const out = new Uint8Array(32 * (length + uncles))
  if (base !== undefined) out.set(base.subarray(32 * index, 32 * (index + length)))
  // The first uncle is the sibling of the subtree the base hashes fill.
  let position = index / length
  for (let u = 0; u < uncles; u++) {
    const layer = layers[log2(length) + u]
    const sibling = position ^ 1
    if (layer !== undefined) out.set(layer.subarray(32 * sibling, 32 * sibling + 32), 32 * (length + u))
    position = Math.floor(position / 2)
  }
  return out
}
