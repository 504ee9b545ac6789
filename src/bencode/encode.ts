/**
 * Canonical bencode encoder (BEP 3: dict keys sorted as raw byte strings).
 *
 * Written here rather than using the `bencode` npm package because that one
 * UTF-8-encodes dict keys (corrupting binary keys such as BEP 52 piece-layer
 * roots) and silently rewrites non-integer numbers.
 */
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

const compare = (a: Uint8Array, b: Uint8Array): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0)
    if (d !== 0) return d
  }
  return a.length - b.length
}

const ascii = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i)
  return out
}

class Writer {
  chunks: Array<Uint8Array> = []
  size = 0
  push(b: Uint8Array) {
    this.chunks.push(b)
    this.size += b.length
  }
  bytes(b: Uint8Array) {
    this.push(ascii(`${b.length}:`))
    this.push(b)
  }
  value(v: Encodable) {
    if (typeof v === "number") {
      // A programming error (we only encode our own data): fail loudly rather than corrupt.
      if (!Number.isSafeInteger(v)) throw new RangeError(`bencode: cannot encode non-integer number ${v}`)
      this.push(ascii(`i${v}e`))
    } else if (typeof v === "string") {
      this.bytes(textEncoder.encode(v))
    } else if (v instanceof Uint8Array) {
      this.bytes(v)
    } else if (Array.isArray(v)) {
      this.push(ascii("l"))
      for (const item of v as ReadonlyArray<Encodable>) this.value(item)
      this.push(ascii("e"))
    } else {
      const dict = v as { readonly [key: string]: Encodable | undefined }
      const entries: Array<[Uint8Array, Encodable]> = []
      for (const key of Object.keys(dict)) {
        const item = dict[key]
        if (item !== undefined) entries.push([keyToBytes(key), item])
      }
      entries.sort((a, b) => compare(a[0], b[0]))
      this.push(ascii("d"))
      for (const [k, item] of entries) {
        this.bytes(k)
        this.value(item)
      }
      this.push(ascii("e"))
    }
  }
}

/** Encodes a value canonically. Throws RangeError only for a non-safe-integer number (a caller bug). */
export const encode = (value: Encodable): Uint8Array => {
  const w = new Writer()
  w.value(value)
  const out = new Uint8Array(w.size)
  let at = 0
  for (const c of w.chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
