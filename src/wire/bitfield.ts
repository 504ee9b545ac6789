import { Result } from "effect"
import { WireError } from "./errors.ts"

/**
 * A piece bitfield as BEP 3 sends it: bit 7 of byte 0 is piece 0.
 *
 * Invariants: `bytes.length === byteLength(pieceCount)` and every spare bit after
 * `pieceCount` is zero, so `bytes` can be sent as-is in a Bitfield message.
 * `set`/`clear` mutate in place (the owner of a Bitfield is one connection or one torrent).
 */
export interface Bitfield {
  readonly pieceCount: number
  readonly bytes: Uint8Array
}

export const byteLength = (pieceCount: number): number => Math.ceil(pieceCount / 8)

/** An empty bitfield. `pieceCount` comes from our own metainfo, not from a peer. */
export const make = (pieceCount: number): Bitfield => ({
  pieceCount,
  bytes: new Uint8Array(byteLength(pieceCount))
})

/** Every piece set (what a HaveAll message means). */
export const full = (pieceCount: number): Bitfield => {
  const bf = make(pieceCount)
  bf.bytes.fill(0xff)
  const spare = bf.bytes.length * 8 - pieceCount
  if (spare > 0) bf.bytes[bf.bytes.length - 1] = (0xff << spare) & 0xff
  return bf
}

export const isValidIndex = (bf: Bitfield, index: number): boolean =>
  Number.isInteger(index) && index >= 0 && index < bf.pieceCount

/** False for indices outside the torrent. */
export const get = (bf: Bitfield, index: number): boolean =>
  isValidIndex(bf, index) && ((bf.bytes[index >>> 3] ?? 0) & (0x80 >>> (index & 7))) !== 0

/** Sets a piece; returns true if it was not set before. Out-of-range indices are ignored (false). */
export const set = (bf: Bitfield, index: number): boolean => {
  if (!isValidIndex(bf, index)) return false
  const i = index >>> 3
  const mask = 0x80 >>> (index & 7)
  const b = bf.bytes[i] ?? 0
  if ((b & mask) !== 0) return false
  bf.bytes[i] = b | mask
  return true
}

/** Clears a piece; returns true if it was set before. */
export const clear = (bf: Bitfield, index: number): boolean => {
  if (!isValidIndex(bf, index)) return false
  const i = index >>> 3
  const mask = 0x80 >>> (index & 7)
  const b = bf.bytes[i] ?? 0
  if ((b & mask) === 0) return false
  bf.bytes[i] = b & ~mask
  return true
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => {
  let c = 0
  for (let x = b; x !== 0; x &= x - 1) c++
  return c
})

/** Number of pieces set. */
export const count = (bf: Bitfield): number => {
  let c = 0
  for (const b of bf.bytes) c += POPCOUNT[b] ?? 0
  return c
}

export const isComplete = (bf: Bitfield): boolean => count(bf) === bf.pieceCount
export const isEmpty = (bf: Bitfield): boolean => bf.bytes.every((b) => b === 0)

/** Indices of set pieces, ascending. Skips zero bytes quickly. */
export function* setIndices(bf: Bitfield): Generator<number, void, undefined> {
  const bytes = bf.bytes
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0
    if (b === 0) continue
    for (let bit = 0; bit < 8; bit++) {
      if ((b & (0x80 >>> bit)) !== 0) yield i * 8 + bit
    }
  }
}

/**
 * Validates a received Bitfield payload against our piece count (BEP 3: wrong length or
 * spare bits set means the peer must be dropped) and returns an owned copy, since the
 * payload is usually a view into a socket chunk.
 */
export const fromWire = (bits: Uint8Array, pieceCount: number): Result.Result<Bitfield, WireError> => {
  const expected = byteLength(pieceCount)
  if (bits.length !== expected) {
    return Result.fail(
      new WireError({
        reason: "BadBitfield",
        messageId: 5,
        message: `bitfield: expected ${expected} bytes for ${pieceCount} pieces, got ${bits.length}`
      })
    )
  }
  const spare = expected * 8 - pieceCount
  if (spare > 0 && ((bits[expected - 1] ?? 0) & ((1 << spare) - 1)) !== 0) {
    return Result.fail(
      new WireError({
        reason: "BadBitfield",
        messageId: 5,
        message: `bitfield: spare bits after piece ${pieceCount - 1} are set`
      })
    )
  }
  return Result.succeed({ pieceCount, bytes: bits.slice() })
}

export const copy = (bf: Bitfield): Bitfield => ({ pieceCount: bf.pieceCount, bytes: bf.bytes.slice() })
