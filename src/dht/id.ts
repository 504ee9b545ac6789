/**
 * 160-bit DHT identifiers (node ids and info-hashes) as 20-byte arrays.
 * Distances are compared byte-wise (XOR metric, BEP 5) without bigint.
 */
import { Effect, Random } from "effect"
import { latin1 } from "../bytes.ts"

export const ID_LENGTH = 20
export const ID_BITS = 160

/** Map/Set key for an id: a binary string, one char per byte. */
export const idKey = (id: Uint8Array): string => latin1(id)

/** Sign of `distance(a, target) - distance(b, target)`. */
export const compareDistance = (target: Uint8Array, a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < ID_LENGTH; i++) {
    const t = target[i] ?? 0
    const d = ((a[i] ?? 0) ^ t) - ((b[i] ?? 0) ^ t)
    if (d !== 0) return d
  }
  return 0
}

export const distance = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ID_LENGTH)
  for (let i = 0; i < ID_LENGTH; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0)
  return out
}

export const bit = (id: Uint8Array, index: number): number => ((id[index >> 3] ?? 0) >> (7 - (index & 7))) & 1

/** Number of leading bits `a` and `b` share (160 when equal). */
export const commonPrefixLength = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < ID_LENGTH; i++) {
    const x = (a[i] ?? 0) ^ (b[i] ?? 0)
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return ID_BITS
}

/** Pure: an id sharing exactly the first `prefix` bits of `base` (and differing at bit `prefix`
 * when `flip`), the rest taken from `noise`. */
export const idWithPrefix = (base: Uint8Array, prefix: number, flip: boolean, noise: Uint8Array): Uint8Array => {
  const out = new Uint8Array(ID_LENGTH)
  for (let i = 0; i < ID_BITS; i++) {
    const v = i < prefix ? bit(base, i) : i === prefix && flip ? 1 - bit(base, i) : bit(noise, i)
    if (v === 1) out[i >> 3] = (out[i >> 3] ?? 0) | (0x80 >> (i & 7))
  }
  return out
}

export const randomBytes = (n: number): Effect.Effect<Uint8Array> =>
  Effect.gen(function*() {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = yield* Random.nextIntBetween(0, 255)
    return out
  })

export const randomId: Effect.Effect<Uint8Array> = randomBytes(ID_LENGTH)
