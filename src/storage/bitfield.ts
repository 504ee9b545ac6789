/** BEP 3 bitfields: bit 7 of byte 0 is piece 0; spare bits at the end are zero. */
export const make = (count: number): Uint8Array => new Uint8Array(Math.ceil(count / 8))

export const get = (bits: Uint8Array, i: number): boolean => ((bits[i >>> 3] ?? 0) & (0x80 >>> (i & 7))) !== 0

export const set = (bits: Uint8Array, i: number, value: boolean): void => {
  const byte = i >>> 3
  const old = bits[byte]
  if (old === undefined) return
  bits[byte] = value ? old | (0x80 >>> (i & 7)) : old & ~(0x80 >>> (i & 7))
}

export const count = (bits: Uint8Array, n: number): number => {
  let c = 0
  for (let i = 0; i < n; i++) if (get(bits, i)) c++
  return c
}

export const fromBooleans = (values: ReadonlyArray<boolean>): Uint8Array => {
  const bits = make(values.length)
  values.forEach((v, i) => set(bits, i, v))
  return bits
}

/** Checks a bitfield read back (from hex) for `n` pieces; null when the length is wrong or spare bits are set. */
export const checked = (bits: Uint8Array | undefined, n: number): Uint8Array | null => {
  if (bits === undefined || bits.length !== Math.ceil(n / 8)) return null
  for (let i = n; i < bits.length * 8; i++) if (get(bits, i)) return null
  return bits
}
