/**
 * BEP 52 merkle trees (SHA-256, binary, 16 KiB leaf blocks).
 * Leaves past the end of a file are 32 zero bytes; a piece-layer entry is the
 * root of the subtree covering one piece (pieceLength / 16 KiB leaves), so the
 * piece-layer padding entries are roots of all-zero subtrees of that height.
 */
import { createHash } from "node:crypto"

export const BLOCK_SIZE = 16384

/** A parent node: SHA-256 of its two children. */
export const hashPair = (a: Uint8Array, b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash("sha256").update(a).update(b).digest())

/** log2 of a power of two (exact: no floating point). */
export const log2 = (n: number): number => 31 - Math.clz32(n)

export const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0

/**
 * Every layer of a (sub)tree from `level` (concatenated 32-byte hashes, a power-of-two
 * count, padding included) up to its root, `level` first.
 */
export const layersUp = (level: Uint8Array): Array<Uint8Array> => {
  const layers = [level]
  let current = level
  while (current.length > 32) {
    const next = new Uint8Array(current.length / 2)
    for (let i = 0; i < next.length / 32; i++) {
      next.set(hashPair(current.subarray(64 * i, 64 * i + 32), current.subarray(64 * i + 32, 64 * i + 64)), 32 * i)
    }
    layers.push(next)
    current = next
  }
  return layers
}

/** The smallest power of two at least `n` (1 for `n` ≤ 1): a tree's width over `n` leaves. */
export const nextPowerOfTwo = (n: number): number => {
  let w = 1
  while (w < n) w *= 2
  return w
}

/** Root of a subtree of `leaves` zero leaves (`leaves` a power of two). */
export const zeroSubtreeRoot = (leaves: number): Uint8Array => {
  let h: Uint8Array = new Uint8Array(32)
  for (let n = 1; n < leaves; n *= 2) h = hashPair(h, h)
  return h
}

/** Merkle root over `hashes`, padded with `pad` to the next power of two. */
export const merkleRoot = (hashes: ReadonlyArray<Uint8Array>, pad: Uint8Array): Uint8Array => {
  if (hashes.length === 0) return pad
  let width = nextPowerOfTwo(hashes.length)
  let layer: Array<Uint8Array> = [...hashes]
  let padding = pad
  while (width > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < width; i += 2) {
      const left = layer[i] ?? padding
      const right = layer[i + 1] ?? padding
      // Subtrees that are pure padding hash to the same value: no need to materialise them
      if (i >= layer.length) break
      next.push(hashPair(left, right))
    }
    padding = hashPair(padding, padding)
    layer = next
    width /= 2
  }
  return layer[0] ?? padding
}

/** Splits a piece layer (concatenated 32-byte hashes) and computes the file's pieces root. */
export const pieceLayerRoot = (layer: Uint8Array, pieceLength: number): Uint8Array => {
  const hashes: Array<Uint8Array> = []
  for (let i = 0; i + 32 <= layer.length; i += 32) hashes.push(layer.subarray(i, i + 32))
  return merkleRoot(hashes, zeroSubtreeRoot(pieceLength / BLOCK_SIZE))
}

/** Pieces root of a file's content (used by tests and torrent creation). */
export const fileMerkleRoot = (data: Uint8Array, pieceLength: number): Uint8Array => {
  const blocks = Math.ceil(data.length / BLOCK_SIZE)
  // multi-piece file: the tree is built over whole-piece subtrees
  if (blocks > pieceLength / BLOCK_SIZE) return pieceLayerRoot(filePieceLayer(data, pieceLength), pieceLength)
  return leavesRoot(blockLeaves(data), nextPowerOfTwo(blocks))
}

/** Piece layer of a file's content (concatenated 32-byte piece hashes). */
export const filePieceLayer = (data: Uint8Array, pieceLength: number): Uint8Array => {
  const perPiece = pieceLength / BLOCK_SIZE
  const pieces = Math.ceil(data.length / pieceLength)
  const out = new Uint8Array(32 * pieces)
  for (let p = 0; p < pieces; p++) {
    out.set(leavesRoot(blockLeaves(data.subarray(p * pieceLength, (p + 1) * pieceLength)), perPiece), 32 * p)
  }
  return out
}

/**
 * SHA-256 of every 16 KiB block of `data` (the last may be short), concatenated: the leaf
 * layer of the piece's merkle subtree. A piece that fails its check keeps these, so the bad
 * block can be named once the right leaves are known.
 */
export const blockLeaves = (data: Uint8Array): Uint8Array => {
  const count = Math.ceil(data.length / BLOCK_SIZE)
  const out = new Uint8Array(32 * count)
  for (let i = 0; i < count; i++) {
    out.set(createHash("sha256").update(data.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)).digest(), 32 * i)
  }
  return out
}

/**
 * Root of a subtree of `width` leaves (a power of two) whose first leaves are `leaves`
 * (concatenated 32-byte hashes) and the rest zero hashes (BEP 52: leaves past a file's end).
 * Reduces in place over one scratch copy.
 */
export const leavesRoot = (leaves: Uint8Array, width: number): Uint8Array => {
  let count = leaves.length / 32
  if (count === 0) return zeroSubtreeRoot(width)
  // a copy whatever `leaves` is (a Buffer's `slice` would share memory, and this writes in place)
  const layer = new Uint8Array(leaves)
  let padding: Uint8Array = new Uint8Array(32)
  for (let w = width; w > 1; w /= 2) {
    const next = Math.ceil(count / 2)
    for (let i = 0; i < next; i++) {
      const left = layer.subarray(64 * i, 64 * i + 32)
      const right = 2 * i + 1 < count ? layer.subarray(64 * i + 32, 64 * i + 64) : padding
      layer.set(createHash("sha256").update(left).update(right).digest(), 32 * i)
    }
    count = next
    padding = hashPair(padding, padding)
  }
  return layer.slice(0, 32)
}

/** The merkle root of one piece's data (`width` leaves: blocks per piece, or fewer for a file of one piece). */
export const pieceRoot = (data: Uint8Array, width: number): Uint8Array => leavesRoot(blockLeaves(data), width)

/** What `FileMerkleHasher.finish` returns for one file. */
export interface FileMerkle {
  /** The file's `pieces root`; null for an empty file (BEP 52: no root). */
  readonly root: Uint8Array | null
  /** The file's piece layer (32 bytes per piece); null unless the file is larger than one piece. */
  readonly layer: Uint8Array | null
}

/**
 * Streams one file's bytes, fed in arbitrary chunks, into its BEP 52 pieces root and piece
 * layer. Holds one running block hash and one piece's leaves (32 bytes per 16 KiB block),
 * plus the growing piece layer (32 bytes per piece): memory does not grow with the data.
 * Gives the same answers as `fileMerkleRoot` / `filePieceLayer` on the whole file.
 */
export class FileMerkleHasher {
  private readonly perPiece: number
  private readonly leaves: Uint8Array
  private readonly layer: Array<Uint8Array> = []
  private block = createHash("sha256")
  private blockFilled = 0
  private leafCount = 0
  private length = 0
  readonly pieceLength: number

  constructor(pieceLength: number) {
    this.pieceLength = pieceLength
    this.perPiece = pieceLength / BLOCK_SIZE
    this.leaves = new Uint8Array(32 * this.perPiece)
  }

  update(chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(BLOCK_SIZE - this.blockFilled, chunk.length - offset)
      this.block.update(chunk.subarray(offset, offset + take))
      this.blockFilled += take
      offset += take
      if (this.blockFilled === BLOCK_SIZE) this.endBlock()
    }
    this.length += chunk.length
  }

  finish(): FileMerkle {
    if (this.blockFilled > 0) this.endBlock()
    if (this.length === 0) return { root: null, layer: null }
    if (this.layer.length === 0) {
      // At most one piece: the tree spans the file's own leaves, padded to a power of two.
      let width = 1
      while (width < this.leafCount) width *= 2
      return { root: leavesRoot(this.leaves.subarray(0, 32 * this.leafCount), width), layer: null }
    }
    if (this.leafCount > 0) this.endPiece()
    const layer = new Uint8Array(32 * this.layer.length)
    this.layer.forEach((h, i) => layer.set(h, 32 * i))
    const root = pieceLayerRoot(layer, this.pieceLength)
    return { root, layer: this.layer.length > 1 ? layer : null }
  }

  private endBlock(): void {
    this.leaves.set(this.block.digest(), 32 * this.leafCount)
    this.leafCount++
    this.block = createHash("sha256")
    this.blockFilled = 0
    if (this.leafCount === this.perPiece) this.endPiece()
  }

  private endPiece(): void {
    this.layer.push(leavesRoot(this.leaves.subarray(0, 32 * this.leafCount), this.perPiece))
    this.leafCount = 0
  }
}
