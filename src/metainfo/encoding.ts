/** RFC 4648 base32 for info-hashes (magnet links). The decoder returns `undefined` on bad input, never throws. */

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
