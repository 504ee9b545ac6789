/**
 * Byte primitives, in one place: hex text (on `effect/encoding`'s `Hex`), byte equality and
 * order, and one-shot SHA digests. Pure and synchronous.
 *
 * **When to use**
 *
 * Whenever bytes become text (info-hashes as map keys, logs, magnet links, resume files),
 * when two byte strings are compared (info-hashes, piece hashes), or when a whole buffer is
 * hashed at once. Incremental hashing (a piece block by block) keeps `node:crypto`'s
 * `createHash` where it happens.
 *
 * **Example**
 *
 * ```ts
 * import { bytesEqual, fromHex, sha1, toHex } from "./bytes.ts"
 * const hash = sha1(new TextEncoder().encode("abc"))
 * toHex(hash) // "a9993e364706816aba3e25717850c26c9cd0d89d"
 * bytesEqual(fromHex(toHex(hash)) ?? new Uint8Array(0), hash) // true
 * ```
 */
import * as Hex from "effect/encoding/Hex"
import { Result } from "effect"
import { createHash } from "node:crypto"

/** Lower-case hex of `bytes` ("" for none). */
export const toHex = (bytes: Uint8Array): string => Hex.encode(bytes)

/** Bytes of hex text (either case); undefined for an odd length or a non-hex character. */
export const fromHex = (text: string): Uint8Array | undefined => Result.getOrUndefined(Hex.decode(text))

/**
 * Bytes as a binary string, one char (U+0000 to U+00FF) per byte: a cheap, exact Map key
 * for ids and hashes, and how bencode dict keys are held.
 */
export const latin1 = (bytes: Uint8Array, start = 0, end = bytes.length): string => {
  let out = ""
  if (end - start <= 32) {
    // dict keys and ids are short: a plain loop beats any bulk conversion here
    for (let i = start; i < end; i++) out += String.fromCharCode(bytes[i] ?? 0)
    return out
  }
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 4096)))
  }
  return out
}

/**
 * `n` bytes that are about to be overwritten whole: not zero-filled, in an `ArrayBuffer` of
 * exactly `n` bytes (never a slice of Node's shared pool, which a long-lived view would pin),
 * as a plain `Uint8Array` (a `Buffer`'s `slice` would share memory).
 */
export const uninitialized = (n: number): Uint8Array => new Uint8Array(Buffer.allocUnsafeSlow(n).buffer, 0, n)

/** Same length and the same bytes. */
export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  // hashes and ids: a loop beats a native call; whole pieces: memcmp
  if (a.length > 64) return Buffer.compare(a, b) === 0
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Byte order: unsigned bytes compared in turn, and a prefix before what it starts (the
 * order of bencoded dictionary keys, BEP 3, and of v2 file names). Compares
 * `a[aStart, aEnd)` with `b[bStart, bEnd)`, whole arrays by default: the bencode decoder
 * compares two keys inside one buffer without making views of them.
 */
export const compareBytes = (
  a: Uint8Array,
  b: Uint8Array,
  aStart = 0,
  aEnd = a.length,
  bStart = 0,
  bEnd = b.length
): number => {
  const n = Math.min(aEnd - aStart, bEnd - bStart)
  for (let i = 0; i < n; i++) {
    const d = (a[aStart + i] ?? 0) - (b[bStart + i] ?? 0)
    if (d !== 0) return d
  }
  return aEnd - aStart - (bEnd - bStart)
}

/** SHA-1 of `parts` one after the other (20 bytes), on the calling thread. */
export const sha1 = (...parts: ReadonlyArray<Uint8Array | string>): Uint8Array => {
  const h = createHash("sha1")
  for (const part of parts) h.update(part)
  return new Uint8Array(h.digest())
}

/** SHA-256 of `data` (32 bytes), on the calling thread. */
export const sha256 = (data: Uint8Array | string): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest())
