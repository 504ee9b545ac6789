/**
 * RC4 in TypeScript. Node 24's default OpenSSL provider has no RC4 (`createCipheriv("rc4")`
 * throws "unsupported"), and users must not need `--openssl-legacy-provider`.
 *
 * **When to use**
 *
 * Only for MSE/PE, which needs RC4 keyed with SHA-1 digests and the first 1024 bytes of
 * keystream discarded (`makeMseCipher`). RC4 is obfuscation here, not confidentiality.
 *
 * **Details**
 *
 * The state lives in one object whose hot loop keeps `i`, `j` and the S-box in locals.
 * `apply` works in place (the receive path owns its socket chunks); `applyTo` writes into
 * another buffer (the send path must not touch the caller's bytes: an upload block may be
 * the storage's own copy).
 *
 * **Example**
 *
 * ```ts
 * const rc4 = makeRc4(new TextEncoder().encode("Key"))
 * const bytes = new TextEncoder().encode("Plaintext")
 * rc4.apply(bytes) // bytes now hold bb f3 16 e8 d9 40 af 0a d3
 * ```
 */

export interface Rc4 {
  /** XORs `bytes[start, end)` with the next keystream bytes, in place. */
  readonly apply: (bytes: Uint8Array, start?: number, end?: number) => void
  /** Writes `src` XOR keystream into `dst` at `offset` (`src` is left alone). */
  readonly applyTo: (src: Uint8Array, dst: Uint8Array, offset: number) => void
  /** Advances the keystream by `n` bytes without output. */
  readonly discard: (n: number) => void
}

class Rc4State implements Rc4 {
  private readonly s = new Uint8Array(256)
  private i = 0
  private j = 0

  constructor(key: Uint8Array) {
    if (key.length === 0 || key.length > 256) throw new RangeError(`RC4 key must be 1..256 bytes, got ${key.length}`)
    const s = this.s
    for (let i = 0; i < 256; i++) s[i] = i
    let j = 0
    for (let i = 0; i < 256; i++) {
      const si = s[i] ?? 0
      j = (j + si + (key[i % key.length] ?? 0)) & 255
      s[i] = s[j] ?? 0
      s[j] = si
    }
  }

  apply(bytes: Uint8Array, start = 0, end = bytes.length): void {
    const s = this.s
    let i = this.i
    let j = this.j
    for (let k = start; k < end; k++) {
      i = (i + 1) & 255
      const si = s[i] as number
      j = (j + si) & 255
      const sj = s[j] as number
      s[i] = sj
      s[j] = si
      bytes[k] = (bytes[k] as number) ^ (s[(si + sj) & 255] as number)
    }
    this.i = i
    this.j = j
  }

  applyTo(src: Uint8Array, dst: Uint8Array, offset: number): void {
    const s = this.s
    let i = this.i
    let j = this.j
    const n = src.length
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 255
      const si = s[i] as number
      j = (j + si) & 255
      const sj = s[j] as number
      s[i] = sj
      s[j] = si
      dst[offset + k] = (src[k] as number) ^ (s[(si + sj) & 255] as number)
    }
    this.i = i
    this.j = j
  }

  discard(n: number): void {
    const s = this.s
    let i = this.i
    let j = this.j
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 255
      const si = s[i] as number
      j = (j + si) & 255
      s[i] = s[j] as number
      s[j] = si
    }
    this.i = i
    this.j = j
  }
}

/** Plain RC4 keyed with `key` (1..256 bytes). */
export const makeRc4 = (key: Uint8Array): Rc4 => new Rc4State(key)

/** MSE discards this much keystream before the first byte it encrypts. */
export const MSE_DISCARD = 1024

/** RC4 as MSE uses it: keyed with a 20-byte digest, first 1024 keystream bytes dropped. */
export const makeMseCipher = (key: Uint8Array): Rc4 => {
  const rc4 = makeRc4(key)
  rc4.discard(MSE_DISCARD)
  return rc4
}
