/**
 * Strict, allocation-bounded bencode decoder.
 *
 * Why not the `bencode` npm package's decoder: on untrusted input it loops
 * forever on a negative string length (`l-3:e`), accepts truncated strings,
 * floats and trailing bytes, recurses without a depth limit, cannot report
 * byte spans, and turns non-UTF-8 dict keys into hex text that collides with
 * real keys. It stays in the test-suite as a differential oracle.
 *
 * Representation (see index.ts): integers are JS numbers and must be safe
 * integers (|n| <= 2^53-1), anything larger is rejected with
 * `IntegerOutOfRange`; byte strings are fresh `Uint8Array` copies (never views
 * of the input); dict keys are "binary strings" (one char per byte, U+0000..U+00FF)
 * stored in null-prototype objects, so `__proto__` is an ordinary key.
 *
 * Policy: BEP 3 syntax is enforced (no leading zeros or `-0` in integers or
 * string lengths, no duplicate keys). Unsorted keys are accepted (real v1
 * torrents have them, libtorrent accepts them) but reported in `unsorted` so
 * callers needing canonical form (BEP 52) can reject.
 */
import { Result } from "effect"
import { compareBytes, latin1 } from "../bytes.ts"
import { BencodeError, type BencodeErrorReason } from "./error.ts"
import type { BencodeDict, BencodeValue } from "./value.ts"

export interface DecodeOptions {
  /** Maximum nesting of lists/dicts (the top-level container is depth 1). Default 128. */
  readonly maxDepth?: number
  /** Maximum number of values (ints, strings, lists, dicts, keys excluded). Default 1,000,000. */
  readonly maxElements?: number
}

export interface Span {
  readonly start: number
  readonly end: number
}

export interface Decoded {
  readonly value: BencodeValue
  /** Offset just past the top-level value (bytes after it are the caller's business). */
  readonly end: number
  /** Byte offsets of dict keys found out of order (non-canonical encoding). */
  readonly unsorted: ReadonlyArray<number>
  /** For a top-level dict: the exact byte span of each entry's value, by key. */
  readonly topLevelSpans: ReadonlyMap<string, Span>
}

export const DEFAULT_MAX_DEPTH = 128
export const DEFAULT_MAX_ELEMENTS = 1_000_000

const I = 0x69
const L = 0x6c
const D = 0x64
const E = 0x65
const COLON = 0x3a
const MINUS = 0x2d
const ZERO = 0x30
const NINE = 0x39

class Failure {
  readonly reason: BencodeErrorReason
  readonly detail: string
  readonly position: number
  constructor(reason: BencodeErrorReason, detail: string, position: number) {
    this.reason = reason
    this.detail = detail
    this.position = position
  }
}

const describeByte = (b: number | undefined) =>
  b === undefined ? "end of input" : b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `0x${b.toString(16).padStart(2, "0")}`

class Decoder {
  pos = 0
  elements = 0
  readonly unsorted: Array<number> = []
  readonly spans = new Map<string, Span>()
  readonly bytes: Uint8Array
  readonly maxDepth: number
  readonly maxElements: number
  constructor(bytes: Uint8Array, maxDepth: number, maxElements: number) {
    this.bytes = bytes
    this.maxDepth = maxDepth
    this.maxElements = maxElements
  }

  fail(reason: BencodeErrorReason, detail: string, position = this.pos): never {
    throw new Failure(reason, detail, position)
  }

  count() {
    if (++this.elements > this.maxElements) {
      this.fail("TooManyElements", `more than ${this.maxElements} values`)
    }
  }

  value(depth: number): BencodeValue {
    const b = this.bytes[this.pos]
    if (b === I) return this.integer()
    if (b === L) return this.list(depth + 1)
    if (b === D) return this.dict(depth + 1)
    if (b !== undefined && b >= ZERO && b <= NINE) {
      this.count()
      const [start, end] = this.stringSpan()
      return this.bytes.slice(start, end)
    }
    return this.fail(b === undefined ? "UnexpectedEnd" : "UnexpectedByte", `expected a value, found ${describeByte(b)}`)
  }

  /** Reads `<digits>` up to `terminator`; rejects leading zeros, "-0", empty and over-long numbers. */
  digits(terminator: number, allowSign: boolean, what: "InvalidInteger" | "InvalidStringLength"): number {
    const start = this.pos
    let negative = false
    if (allowSign && this.bytes[this.pos] === MINUS) {
      negative = true
      this.pos++
    }
    const first = this.pos
    let n = 0
    for (;;) {
      const b = this.bytes[this.pos]
      if (b === undefined) return this.fail("UnexpectedEnd", "input ends inside a number")
      if (b === terminator) break
      if (b < ZERO || b > NINE) return this.fail(what, `unexpected ${describeByte(b)} in a number`)
      // 17 digits can exceed 2^53; stop before precision is lost
      if (this.pos - first >= 16) {
        return this.fail(what === "InvalidInteger" ? "IntegerOutOfRange" : what, "number has too many digits", start)
      }
      n = n * 10 + (b - ZERO)
      this.pos++
    }
    const len = this.pos - first
    if (len === 0) return this.fail(what, "number has no digits", start)
    if (this.bytes[first] === ZERO && (len > 1 || negative)) {
      return this.fail(what, "number has a leading zero or is negative zero", start)
    }
    if (!Number.isSafeInteger(n)) {
      return this.fail(what === "InvalidInteger" ? "IntegerOutOfRange" : what, "number exceeds 2^53-1", start)
    }
    this.pos++ // terminator
    return negative ? -n : n
  }

  integer(): number {
    this.count()
    this.pos++ // 'i'
    return this.digits(E, true, "InvalidInteger")
  }

  stringSpan(): [number, number] {
    const at = this.pos
    const len = this.digits(COLON, false, "InvalidStringLength")
    const start = this.pos
    if (len > this.bytes.length - start) {
      return this.fail("UnexpectedEnd", `string of ${len} bytes runs past the end of input`, at)
    }
    this.pos = start + len
    return [start, start + len]
  }

  enter(depth: number) {
    if (depth > this.maxDepth) this.fail("TooDeep", `nesting deeper than ${this.maxDepth}`)
    this.count()
    this.pos++ // 'l' or 'd'
  }

  list(depth: number): ReadonlyArray<BencodeValue> {
    this.enter(depth)
    const out: Array<BencodeValue> = []
    while (this.bytes[this.pos] !== E) {
      if (this.bytes[this.pos] === undefined) this.fail("UnexpectedEnd", "input ends inside a list")
      out.push(this.value(depth))
    }
    this.pos++
    return out
  }

  dict(depth: number): BencodeDict {
    this.enter(depth)
    const out: Record<string, BencodeValue> = Object.create(null)
    let prevStart = -1
    let prevEnd = -1
    for (;;) {
      const b = this.bytes[this.pos]
      if (b === E) break
      if (b === undefined) this.fail("UnexpectedEnd", "input ends inside a dict")
      if (b < ZERO || b > NINE) this.fail("NonStringKey", `dict key must be a string, found ${describeByte(b)}`)
      const keyAt = this.pos
      const [ks, ke] = this.stringSpan()
      const key = latin1(this.bytes, ks, ke)
      if (prevStart >= 0) {
        const c = compareBytes(this.bytes, this.bytes, prevStart, prevEnd, ks, ke)
        if (c > 0) this.unsorted.push(keyAt)
      }
      if (Object.hasOwn(out, key)) this.fail("DuplicateKey", `duplicate dict key ${JSON.stringify(key)}`, keyAt)
      prevStart = ks
      prevEnd = ke
      if (this.bytes[this.pos] === undefined) this.fail("UnexpectedEnd", "dict key has no value")
      const valueStart = this.pos
      out[key] = this.value(depth)
      if (depth === 1) this.spans.set(key, { start: valueStart, end: this.pos })
    }
    this.pos++
    return out
  }
}

const toError = (f: Failure) =>
  new BencodeError({ reason: f.reason, message: `invalid bencode at byte ${f.position}: ${f.detail}`, position: f.position })

/**
 * Decodes one value from the start of `bytes`, leaving any bytes after it
 * alone (`end` says where it stopped). Bad input never throws (only a bug would).
 */
export const decodePrefix = (bytes: Uint8Array, options: DecodeOptions = {}): Result.Result<Decoded, BencodeError> => {
  if (bytes.length === 0) {
    return Result.fail(new BencodeError({ reason: "Empty", message: "invalid bencode: empty input", position: 0 }))
  }
  const d = new Decoder(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH, options.maxElements ?? DEFAULT_MAX_ELEMENTS)
  try {
    const value = d.value(0)
    return Result.succeed({ value, end: d.pos, unsorted: d.unsorted, topLevelSpans: d.spans })
  } catch (e) {
    if (e instanceof Failure) return Result.fail(toError(e))
    // Bad input always ends in a Failure (depth and element caps keep the engine's own limits
    // out of reach): anything else is a bug in the decoder and stays a defect.
    throw e
  }
}

/** Decodes exactly one value spanning all of `bytes` (trailing bytes are an error). Bad input never throws. */
export const decode = (bytes: Uint8Array, options: DecodeOptions = {}): Result.Result<BencodeValue, BencodeError> =>
  Result.flatMap(decodePrefix(bytes, options), (d) =>
    d.end === bytes.length
      ? Result.succeed(d.value)
      : Result.fail(
        new BencodeError({
          reason: "TrailingData",
          message: `invalid bencode: ${bytes.length - d.end} trailing byte(s) after the value at byte ${d.end}`,
          position: d.end
        })
      ))
