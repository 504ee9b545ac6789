/** Hex and RFC 4648 base32 for info-hashes. Decoders return `undefined` on bad input, never throw. */
import { createHash } from "node:crypto"

const HEX = "0123456789abcdef"

export const toHex = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes) out += (HEX[b >> 4] ?? "") + (HEX[b & 15] ?? "")
  return out
}

const hexNibble = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1

export const fromHex = (s: string): Uint8Array | undefined => {
  if (s.length % 2 !== 0) return undefined
  const out = new Uint8Array(s.length / 2)
  for (let i = 0; i < out.length; i++) {
    const hi = hexNibble(s.charCodeAt(2 * i))
    const lo = hexNibble(s.charCodeAt(2 * i + 1))
    if (hi < 0 || lo < 0) return undefined
    out[i] = (hi << 4) | lo
  }
  return out
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

/** Unpadded upper-case base32 (a 20-byte hash gives 32 chars). */
export const toBase32 = (bytes: Uint8Array): string => {
  let out = ""
  let buffer = 0
  let bits = 0
  for (const b of bytes) {
    buffer = ((buffer << 8) | b) & 0xffff
    bits += 8
    while (bits >= 5) {
      out += B32[(buffer >> (bits - 5)) & 31] ?? ""
      bits -= 5
    }
  }
  if (bits > 0) out += B32[(buffer << (5 - bits)) & 31] ?? ""
  return out
}

/** Case-insensitive, unpadded (trailing "=" tolerated) base32. */
export const fromBase32 = (s: string): Uint8Array | undefined => {
  const clean = s.replace(/=+$/, "").toUpperCase()
  const out = new Uint8Array(Math.floor((clean.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let at = 0
  for (const ch of clean) {
    const v = B32.indexOf(ch)
    if (v < 0) return undefined
    buffer = ((buffer << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      out[at++] = (buffer >> (bits - 8)) & 0xff
      bits -= 8
    }
  }
  return out
}

export const sha1 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha1").update(bytes).digest())
export const sha256 = (bytes: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(bytes).digest())

/** Lower-case hex SHA-1 of raw info-dict bytes: the usual v1 info-hash display form. */
export const infoHashHex = (infoBytes: Uint8Array): string => toHex(sha1(infoBytes))
/** Lower-case hex SHA-256 of raw info-dict bytes (BEP 52 v2 info-hash). */
export const infoHashV2Hex = (infoBytes: Uint8Array): string => toHex(sha256(infoBytes))
/** BEP 52: the v2 info-hash truncated to 20 bytes, as used by trackers, DHT and the peer handshake. */
export const truncateInfoHashV2 = (infoHashV2: Uint8Array): Uint8Array => infoHashV2.slice(0, 20)

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
