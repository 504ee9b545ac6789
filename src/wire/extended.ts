import { Result, Schema } from "effect"
import { decode, encode, getField, isBytes, isDict, isInt, keyFromText, keyText, utf8 } from "../bencode/index.ts"
import type { BencodeValue, Encodable } from "../bencode/index.ts"
import { WireError } from "./errors.ts"
import { bytesView } from "./schema-view.ts"
import type { Message } from "./message.ts"

/** Extended message id 0 is the BEP 10 handshake; other ids are whatever the peer's `m` says. */
export const EXTENDED_HANDSHAKE_ID = 0

const U8 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 }))
const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 0xffff }))
const Count = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Bytes = (...lengths: ReadonlyArray<number>) =>
  Schema.Uint8Array.check(
    Schema.makeFilter((b: Uint8Array) => lengths.includes(b.length), { expected: `${lengths.join(" or ")} bytes` })
  )

/**
 * BEP 10 extended handshake (plus BEP 9 `metadata_size`, BEP 21 `upload_only`).
 * `m` maps extension names to the ids *we* must use when sending to this peer; 0 = disabled.
 * It is always present after decoding (an absent `m` decodes as `{}`).
 */
export const ExtendedHandshake = Schema.Struct({
  m: Schema.Record(Schema.String, U8),
  v: Schema.optionalKey(Schema.String),
  p: Schema.optionalKey(Port),
  reqq: Schema.optionalKey(Count),
  metadata_size: Schema.optionalKey(Count),
  yourip: Schema.optionalKey(Bytes(4, 16)),
  upload_only: Schema.optionalKey(Schema.Boolean),
  ipv4: Schema.optionalKey(Bytes(4)),
  ipv6: Schema.optionalKey(Bytes(16))
})
export type ExtendedHandshake = typeof ExtendedHandshake.Type

export interface DecodeExtendedOptions {
  /**
   * Lenient (default): a known field with the wrong type or range is dropped, as are `m`
   * entries whose id is not an integer 0..255 — these fields are advisory and real
   * clients get them wrong, so one bad field should not cost a peer. Only a payload that is
   * not a bencoded dict, or an `m` that is not a dict, is an error.
   * Strict: any such field is a `BadExtendedHandshake` error naming it.
   */
  readonly strict?: boolean
}

const fail = (message: string) =>
  Result.fail(new WireError({ reason: "BadExtendedHandshake", messageId: 20, message: `extended handshake: ${message}` }))

const describe = (v: BencodeValue): string =>
  isInt(v) ? `integer ${v}` : isBytes(v) ? `${v.length}-byte string` : Array.isArray(v) ? "list" : "dict"

type Reader<A> = (v: BencodeValue) => A | undefined
const int = (min: number, max: number): Reader<number> => (v) => isInt(v) && v >= min && v <= max ? v : undefined
const bytesOf = (...lengths: ReadonlyArray<number>): Reader<Uint8Array> => (v) =>
  isBytes(v) && lengths.includes(v.length) ? v : undefined

// Field name, reader, and what we expected (for strict-mode messages).
const FIELDS = {
  v: [(v: BencodeValue) => (isBytes(v) ? utf8(v) : undefined), "a UTF-8 string"],
  p: [int(1, 0xffff), "a port 1..65535"],
  reqq: [int(0, Number.MAX_SAFE_INTEGER), "a non-negative integer"],
  metadata_size: [int(0, Number.MAX_SAFE_INTEGER), "a non-negative integer"],
  yourip: [bytesOf(4, 16), "4 or 16 bytes"],
  upload_only: [(v: BencodeValue) => (isInt(v) ? v !== 0 : undefined), "an integer"],
  ipv4: [bytesOf(4), "4 bytes"],
  ipv6: [bytesOf(16), "16 bytes"]
} as const satisfies { readonly [K in Exclude<keyof ExtendedHandshake, "m">]-?: readonly [Reader<ExtendedHandshake[K]>, string] }

type Optional = { -readonly [K in keyof typeof FIELDS]?: ExtendedHandshake[K] }

/** Decodes the bencoded payload of an extended message with id 0. Unknown keys are ignored. */
export const decodeExtendedHandshake = (
  payload: Uint8Array,
  options: DecodeExtendedOptions = {}
): Result.Result<ExtendedHandshake, WireError> => {
  const strict = options.strict === true
  const decoded = decode(payload, { maxDepth: 8, maxElements: 10_000 })
  if (Result.isFailure(decoded)) return fail(`not valid bencode: ${decoded.failure.message}`)
  const dict = decoded.success
  if (!isDict(dict)) return fail(`expected a dict, got a ${describe(dict)}`)

  const m: Record<string, number> = {}
  const rawM = getField(dict, "m")
  if (rawM !== undefined) {
    if (!isDict(rawM)) return fail(`"m" must be a dict, got a ${describe(rawM)}`)
    for (const key of Object.keys(rawM)) {
      const id = rawM[key]
      const name = keyText(key) ?? key
      if (isInt(id) && id >= 0 && id <= 255) m[name] = id
      else if (strict) return fail(`"m.${name}" must be an id 0..255, got ${id === undefined ? "nothing" : describe(id)}`)
    }
  }

  const out: Optional = {}
  for (const key of Object.keys(FIELDS) as Array<keyof typeof FIELDS>) {
    const raw = getField(dict, key)
    if (raw === undefined) continue
    const [read, expected] = FIELDS[key]
    const value = read(raw)
    if (value === undefined) {
      if (strict) return fail(`"${key}" must be ${expected}, got ${describe(raw)}`)
      continue
    }
    Object.assign(out, { [key]: value })
  }
  return Result.succeed({ m, ...out })
}

/** Bencodes an extended handshake (the payload of extended message id 0). */
export const encodeExtendedHandshake = (h: ExtendedHandshake): Uint8Array => {
  const m: Record<string, Encodable> = {}
  for (const [name, id] of Object.entries(h.m)) m[keyFromText(name)] = id
  const dict: { [k: string]: Encodable | undefined } = {
    m,
    v: h.v,
    p: h.p,
    reqq: h.reqq,
    metadata_size: h.metadata_size,
    yourip: h.yourip,
    upload_only: h.upload_only === undefined ? undefined : h.upload_only ? 1 : 0,
    ipv4: h.ipv4,
    ipv6: h.ipv6
  }
  return encode(dict)
}

/** The complete `Extended` message (id 0) carrying `h`. */
export const extendedHandshakeMessage = (h: ExtendedHandshake): Message => ({
  _tag: "Extended",
  id: EXTENDED_HANDSHAKE_ID,
  payload: encodeExtendedHandshake(h)
})

/** Schema view: bencoded payload <-> ExtendedHandshake (lenient decoding). */
export const ExtendedHandshakeFromBytes = bytesView(ExtendedHandshake, decodeExtendedHandshake, encodeExtendedHandshake)
