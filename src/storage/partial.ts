import { createHash, type Hash } from "node:crypto"
import { sha1, uninitialized } from "../bytes.ts"

/**
 * One piece being assembled from blocks.
 *
 * Invariants: `size` is the piece's real size (from the validated layout), and so is `buffer.length` unless blocks are kept by reference;
 * coverage is tracked in units of `unit` bytes (the block size), so every accepted block
 * starts on a unit boundary. With inline hashing (`hash` set), `hashed` units form a
 * received prefix already fed to SHA-1, which is why in-order arrival costs no extra
 * hashing at completion; without it (a `PieceHasher` hashes the whole piece off the JS
 * thread at completion) `hashed` stays 0.
 *
 * Kept by reference (`blocks` set; simulations, see `PieceHasherShape.blocks`): a block that
 * lives in memory that never changes is kept as a view, any other is copied on arrival;
 * `buffer` is then empty and the piece's bytes are the blocks in order.
 */
export interface PartialPiece {
  readonly buffer: Uint8Array
  /** The piece's size in bytes. */
  readonly size: number
  readonly unit: number
  readonly received: Uint8Array
  receivedCount: number
  hashed: number
  readonly hash: Hash | undefined
  /** By unit, when blocks are kept by reference. */
  readonly blocks: Array<Uint8Array> | undefined
  /** Whether a block may be kept as a view (with `blocks`). */
  readonly referable: ((data: Uint8Array) => boolean) | undefined
}

const NO_BYTES = new Uint8Array(0)

/** A fresh piece buffer, not zero-filled. */
export const allocatePiece = (size: number): Uint8Array => uninitialized(size)

/**
 * `buffer` is exactly `size` bytes nobody else references (fresh or recycled). Not
 * zero-filled: no byte is read (hashed, written, served) before a block set it.
 */
export const makePartial = (buffer: Uint8Array, unit: number, incremental: boolean): PartialPiece => ({
  buffer,
  size: buffer.length,
  unit,
  received: new Uint8Array(Math.ceil(buffer.length / unit)),
  receivedCount: 0,
  hashed: 0,
  hash: incremental ? createHash("sha1") : undefined,
  blocks: undefined,
  referable: undefined
})

/** A piece of `size` bytes whose blocks are kept by reference when `referable` says they may be. */
export const makeReferencePartial = (size: number, unit: number, referable: (data: Uint8Array) => boolean): PartialPiece => ({
  buffer: NO_BYTES,
  size,
  unit,
  received: new Uint8Array(Math.ceil(size / unit)),
  receivedCount: 0,
  hashed: 0,
  hash: undefined,
  blocks: [],
  referable
})

/** Blocks start on a unit boundary and cover whole units, except that the last may end at the piece end. */
export const isAligned = (size: number, unit: number, begin: number, length: number): boolean =>
  begin % unit === 0 && (length % unit === 0 || begin + length === size)

/**
 * Copies the units of `data` (placed at `begin`, already validated/aligned) that were
 * not received yet. Returns false when every unit was a duplicate.
 */
export const addBlock = (p: PartialPiece, begin: number, data: Uint8Array): boolean => {
  const first = begin / p.unit
  const units = Math.ceil(data.length / p.unit)
  let added = false
  for (let u = first; u < first + units; u++) {
    if (p.received[u] === 1) continue
    const from = (u - first) * p.unit
    const unit = from === 0 && data.length <= p.unit ? data : data.subarray(from, Math.min(from + p.unit, data.length))
    if (p.blocks === undefined) p.buffer.set(unit, begin + from)
    else p.blocks[u] = p.referable?.(unit) === true ? unit : unit.slice()
    p.received[u] = 1
    p.receivedCount++
    added = true
  }
  if (added) advanceHash(p)
  return added
}

const advanceHash = (p: PartialPiece): void => {
  const hash = p.hash
  if (hash === undefined) return
  const start = p.hashed
  while (p.hashed < p.received.length && p.received[p.hashed] === 1) p.hashed++
  if (p.hashed > start) hash.update(p.buffer.subarray(start * p.unit, Math.min(p.hashed * p.unit, p.buffer.length)))
}

export const isComplete = (p: PartialPiece): boolean => p.receivedCount === p.received.length

/** SHA-1 of the complete piece (every unit received, hence all hashed when inline). */
export const digest = (p: PartialPiece): Uint8Array => p.hash === undefined ? sha1(p.buffer) : new Uint8Array(p.hash.digest())

/** The bytes of a complete piece (a copy when its blocks are kept by reference). */
export const pieceBytes = (p: PartialPiece): Uint8Array => {
  if (p.blocks === undefined) return p.buffer.subarray(0, p.size)
  const out = new Uint8Array(p.size)
  p.blocks.forEach((block, u) => out.set(block, u * p.unit))
  return out
}
