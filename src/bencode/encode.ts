/**
 * Canonical bencode encoder (BEP 3: dict keys sorted as raw byte strings).
 *
 * Written here rather than using the `bencode` npm package because that one
 * UTF-8-encodes dict keys (corrupting binary keys such as BEP 52 piece-layer
 * roots) and silently rewrites non-integer numbers.
 */
import { compareBytes } from "../bytes.ts"
import type { BencodeValue } from "./value.ts"

/**
 * What `encode` accepts: any `BencodeValue`, plus JS strings (UTF-8 encoded)
 * and `undefined` dict values (the entry is omitted) for convenience when
 * building messages.
 */
export type Encodable =
  | BencodeValue
  | string
  | ReadonlyArray<Encodable>
  | { readonly [key: string]: Encodable | undefined }

const textEncoder = new TextEncoder()

/**
 * Dict key -> bytes. Keys are binary strings (one char per byte); a key with
 * any char above U+00FF cannot be one, so it is taken as text and UTF-8 encoded.
 */
export const keyToBytes = (key: string): Uint8Array => {
  const out = new Uint8Array(key.length)
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    if (c > 0xff) return textEncoder.encode(key)
    out[i] = c
  }
  return out
}

const isBinaryString = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false
  return true
}

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** BEP 3 order: keys compared as raw byte strings. Binary-string keys compare as JS strings do. */
const compareKeys = (a: string, b: string): number =>
  isBinaryString(a) && isBinaryString(b) ? (a < b ? -1 : a > b ? 1 : 0) : compareBytes(keyToBytes(a), keyToBytes(b))

/**
 * Writes into one growing scratch buffer (encoding is synchronous, so one is enough) and
 * copies the result out once. Strings of one-byte chars are written char by char: small
 * messages (extended handshakes, KRPC, tracker queries) are all such strings, and a
 * `TextEncoder` call or a tiny typed array per token cost more than the bytes themselves.
 */
class Writer {
  buf: Buffer = scratch
  at = 0
  reserve(n: number) {
    if (this.at + n <= this.buf.length) return
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n))
    bigger.set(this.buf.subarray(0, this.at))
    this.buf = bigger
  }
  /** A string of chars <= 0xFF, one byte each. */
  binary(s: string) {
    this.reserve(s.length)
    const { buf } = this
    let at = this.at
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i)
    this.at = at
  }
  raw(b: Uint8Array) {
    this.reserve(b.length)
    this.buf.set(b, this.at)
    this.at += b.length
  }
  bytes(b: Uint8Array) {
    this.binary(`${b.length}:`)
    this.raw(b)
  }
  /** A byte string given as text (UTF-8), or as a binary string for dict keys. */
  string(s: string, binaryOk: boolean) {
    if (binaryOk ? isBinaryString(s) : isAscii(s)) {
      this.binary(`${s.length}:`)
      this.binary(s)
    } else {
      this.bytes(textEncoder.encode(s))
    }
  }
  value(v: Encodable) {
    if (typeof v === "number") {
      // A programming error (we only encode our own data): fail loudly rather than corrupt.
      if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: cannot encode non-integer number ${v}`)
      this.binary(`i${v}e`)
    } else if (typeof v === "string") {
      this.string(v, false)
    } else if (v instanceof Uint8Array) {
      this.bytes(v)
    } else if (Array.isArray(v)) {
      this.binary("l")
      for (const item of v as ReadonlyArray<Encodable>) this.value(item)
      this.binary("e")
    } else {
      const dict = v as { readonly [key: string]: Encodable | undefined }
      const keys = Object.keys(dict).filter((key) => dict[key] !== undefined).sort(compareKeys)
      this.binary("d")
      for (const key of keys) {
        this.string(key, true)
        const item = dict[key]
        if (item !== undefined) this.value(item)
      }
      this.binary("e")
    }
  }
}

let scratch: Buffer = Buffer.allocUnsafe(4096)

/** Encodes a value canonically. Throws RangeError only for a non-safe-integer number (a caller bug). */
export const encode = (value: Encodable): Uint8Array => {
  const w = new Writer()
  w.value(value)
  if (w.buf.length > scratch.length && w.buf.length <= 1 << 20) scratch = w.buf
  // a copy in a pooled Buffer, as a plain Uint8Array view (see withPrefix in wire/codec.ts
  // for why not a new Uint8Array)
  const pooled = Buffer.from(w.buf.subarray(0, w.at))
  return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length)
}
