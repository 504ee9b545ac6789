/**
 * The SHA-1 digests MSE derives from the shared secret S and the stream key SKEY (the
 * torrent's 20-byte info-hash: v1, or v2 truncated).
 */
import { sha1 } from "../bytes.ts"

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const REQ1 = ascii("req1")
const REQ2 = ascii("req2")
const REQ3 = ascii("req3")
const KEY_A = ascii("keyA")
const KEY_B = ascii("keyB")

/** The responder's sync point: `HASH('req1', S)`. */
export const req1 = (secret: Uint8Array): Uint8Array => sha1(REQ1, secret)

/**
 * `HASH('req2', SKEY)`: what a responder looks torrents up by. The initiator sends it
 * XORed with `HASH('req3', S)` (`obfuscatedSkey`), so only someone who knows S and SKEY can
 * tell which torrent is meant.
 */
export const req2 = (skey: Uint8Array): Uint8Array => sha1(REQ2, skey)

/** `HASH('req2', SKEY) xor HASH('req3', S)`. */
export const obfuscatedSkey = (skey: Uint8Array, secret: Uint8Array): Uint8Array => xor20(req2(skey), sha1(REQ3, secret))

/** The responder's side of `obfuscatedSkey`: recovers `HASH('req2', SKEY)`. */
export const revealReq2 = (obfuscated: Uint8Array, secret: Uint8Array): Uint8Array => xor20(obfuscated, sha1(REQ3, secret))

/** RC4 key of the initiator's direction. */
export const keyA = (secret: Uint8Array, skey: Uint8Array): Uint8Array => sha1(KEY_A, secret, skey)
/** RC4 key of the responder's direction. */
export const keyB = (secret: Uint8Array, skey: Uint8Array): Uint8Array => sha1(KEY_B, secret, skey)

const xor20 = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(20)
  for (let i = 0; i < 20; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0)
  return out
}
