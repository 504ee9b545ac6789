/**
 * MSE's Diffie-Hellman: the 768-bit prime below, generator 2, 160-bit private exponents.
 *
 * **Details**
 *
 * Node's `createDiffieHellman(prime)` checks the prime once (~18 ms here), so a single
 * instance is made on first use and re-keyed for every handshake with `setPrivateKey`;
 * JavaScript runs one call at a time, so re-keying and computing never interleave. With a
 * 160-bit exponent a public value costs ~0.06 ms and a shared secret ~0.08 ms (a fresh
 * full-size key pair costs ~18 ms, which would cap incoming handshakes at ~50 a second).
 * OpenSSL rejects public values outside 2..P-2, which `sharedSecret` reports as `undefined`.
 */
import { createDiffieHellman, type DiffieHellman } from "node:crypto"
import { errnoOf } from "../errno.ts"

export const PRIME_HEX =
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"
/** Public values and the shared secret are this long, big-endian, left-padded with zeros. */
export const KEY_LENGTH = 96
/** Length of the private exponent we draw (160 bits, as the spec recommends). */
export const PRIVATE_KEY_LENGTH = 20

let instance: DiffieHellman | undefined
const dh = (): DiffieHellman => (instance ??= createDiffieHellman(Buffer.from(PRIME_HEX, "hex"), Buffer.from([2])))

const padded = (value: Uint8Array): Uint8Array => {
  const out = new Uint8Array(KEY_LENGTH)
  out.set(value.subarray(Math.max(0, value.length - KEY_LENGTH)), Math.max(0, KEY_LENGTH - value.length))
  return out
}

/** `2^x mod P` for a private exponent `x` (big-endian bytes), as 96 bytes. */
export const publicKey = (privateKey: Uint8Array): Uint8Array => {
  const d = dh()
  d.setPrivateKey(privateKey)
  d.generateKeys()
  return padded(d.getPublicKey())
}

/** `Y^x mod P` as 96 bytes, or undefined when `theirPublic` is not a valid public value. */
export const sharedSecret = (privateKey: Uint8Array, theirPublic: Uint8Array): Uint8Array | undefined => {
  const d = dh()
  d.setPrivateKey(privateKey)
  try {
    return padded(d.computeSecret(theirPublic))
  } catch (e) {
    // OpenSSL's range check ("Supplied key is too small/large") is the peer's fault; anything else is a bug
    if (errnoOf(e) === "ERR_CRYPTO_INVALID_KEYLEN") return undefined
    throw e
  }
}
