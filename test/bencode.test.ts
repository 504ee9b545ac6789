import { assert, describe, it } from "@effect/vitest"
import bencodeOracle from "bencode"
import { Result } from "effect"
import * as fc from "fast-check"
import { readFileSync } from "node:fs"
import {
  type BencodeValue,
  decode,
  decodePrefix,
  encode,
  expectBytes,
  expectInt,
  getBytes,
  getDict,
  getField,
  getInt,
  getList,
  getString,
  infoSpan,
  isDict,
  keyBytes,
  keyFromBytes,
  keyFromText,
  keyText,
  text,
  utf8
} from "../src/bencode/index.ts"

const ascii = (s: string) => new TextEncoder().encode(s)
const ok = (s: string) => {
  const r = decode(ascii(s))
  if (Result.isFailure(r)) return assert.fail(`${s}: ${r.failure.message}`)
  return r.success
}
const reason = (s: string | Uint8Array, options?: Parameters<typeof decode>[1]) => {
  const r = decode(typeof s === "string" ? ascii(s) : s, options)
  return Result.isFailure(r) ? r.failure.reason : "ok"
}

describe("bencode decode", () => {
  it("decodes the four types", () => {
    assert.strictEqual(ok("i42e"), 42)
    assert.strictEqual(ok("i-7e"), -7)
    assert.strictEqual(ok("i0e"), 0)
    assert.deepStrictEqual(ok("4:spam"), ascii("spam"))
    assert.deepStrictEqual(ok("0:"), new Uint8Array(0))
    assert.deepStrictEqual(ok("l4:spami1ee"), [ascii("spam"), 1])
    const d = ok("d3:cow3:moo4:spaml1:a1:bee")
    assert.isTrue(isDict(d))
    if (!isDict(d)) return
    assert.deepStrictEqual(getBytes(d, "cow"), ascii("moo"))
    assert.deepStrictEqual(getList(d, "spam"), [ascii("a"), ascii("b")])
  })

  it.each([
    ["", "Empty"],
    ["i", "UnexpectedEnd"],
    ["i12", "UnexpectedEnd"],
    ["ie", "InvalidInteger"],
    ["i-e", "InvalidInteger"],
    ["i03e", "InvalidInteger"],
    ["i-0e", "InvalidInteger"],
    ["i1.5e", "InvalidInteger"],
    ["i9007199254740992e", "IntegerOutOfRange"],
    ["i-9007199254740992e", "IntegerOutOfRange"],
    ["i123456789012345678901234567890e", "IntegerOutOfRange"],
    ["5:abc", "UnexpectedEnd"],
    ["05:abcde", "InvalidStringLength"],
    ["-3:abc", "UnexpectedByte"],
    ["l-3:e", "UnexpectedByte"],
    ["99999999999999999:x", "InvalidStringLength"],
    ["x", "UnexpectedByte"],
    ["l", "UnexpectedEnd"],
    ["li1e", "UnexpectedEnd"],
    ["d", "UnexpectedEnd"],
    ["d1:a", "UnexpectedEnd"],
    ["di1ei2ee", "NonStringKey"],
    ["d1:ai1e1:ai2ee", "DuplicateKey"],
    ["i1ei2e", "TrailingData"],
    ["e", "UnexpectedByte"]
  ] as const)("rejects %j with %s", (input, why) => {
    assert.strictEqual(reason(input), why)
  })

  it("errors carry position and a readable message", () => {
    const r = decode(ascii("l4:spami03ee"))
    assert.isTrue(Result.isFailure(r))
    if (Result.isSuccess(r)) return
    assert.strictEqual(r.failure._tag, "BencodeError")
    assert.strictEqual(r.failure.position, 8)
    assert.include(r.failure.message, "byte 8")
    assert.include(r.failure.message, "leading zero")
  })

  it("caps nesting depth and element count", () => {
    assert.strictEqual(reason("l".repeat(200) + "e".repeat(200)), "TooDeep")
    assert.strictEqual(reason("lllleeee", { maxDepth: 3 }), "TooDeep")
    assert.strictEqual(reason("lllleeee", { maxDepth: 4 }), "ok")
    assert.strictEqual(reason("li1ei2ei3ee", { maxElements: 3 }), "TooManyElements")
    assert.strictEqual(reason("li1ei2ei3ee", { maxElements: 4 }), "ok")
    // a million-level bomb is rejected quickly, without recursion blowing the stack
    assert.strictEqual(reason("l".repeat(1_000_000)), "TooDeep")
  })

  it("accepts unsorted keys but reports them", () => {
    const r = decodePrefix(ascii("d1:bi1e1:ai2ee"))
    if (Result.isFailure(r)) return assert.fail(r.failure.message)
    assert.deepStrictEqual(r.success.unsorted, [7])
    const sorted = decodePrefix(ascii("d1:ai1e1:bi2ee"))
    assert.deepStrictEqual(Result.isSuccess(sorted) ? sorted.success.unsorted : null, [])
  })

  it("decodePrefix stops after the first value (BEP 9 data messages carry raw bytes after the dict)", () => {
    const r = decodePrefix(ascii("d8:msg_typei1e5:piecei0eeRAWDATA"))
    if (Result.isFailure(r)) return assert.fail(r.failure.message)
    assert.strictEqual(r.success.end, 25)
  })

  it("treats __proto__ and constructor as ordinary keys", () => {
    const d = ok("d11:constructori2e9:__proto__i1ee")
    if (!isDict(d)) return assert.fail("not a dict")
    assert.strictEqual(getInt(d, "__proto__"), 1)
    assert.strictEqual(getInt(d, "constructor"), 2)
    assert.strictEqual(getField(d, "toString"), undefined)
    assert.deepStrictEqual(decode(encode(d)), Result.succeed(d))
  })

  it("keeps binary keys byte-exact (piece layers)", () => {
    const root = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)
    const bytes = encode({ [keyFromBytes(root)]: ascii("layer") })
    const r = decode(bytes)
    if (Result.isFailure(r) || !isDict(r.success)) return assert.fail("decode failed")
    const [key] = Object.keys(r.success)
    assert.deepStrictEqual(keyBytes(key ?? ""), root)
    assert.deepStrictEqual(encode(r.success), bytes)
  })

  it("text keys round-trip through keyFromText/keyText", () => {
    const k = keyFromText("dösché 文件.txt")
    assert.strictEqual(keyText(k), "dösché 文件.txt")
    assert.deepStrictEqual(keyBytes(k), text("dösché 文件.txt"))
    assert.strictEqual(keyText(keyFromBytes(Uint8Array.of(0xff))), undefined)
  })
})

describe("bencode encode", () => {
  it("sorts keys by raw bytes, skips undefined, encodes strings as UTF-8", () => {
    const out = encode({ b: 1, a: [1, "x", Uint8Array.of(65)], c: undefined, "é": "ü" })
    assert.strictEqual(new TextDecoder("latin1").decode(out), "d1:ali1e1:x1:Ae1:bi1e1:é2:Ã¼e")
  })

  it("rejects non-integer numbers loudly (a caller bug)", () => {
    assert.throws(() => encode(1.5), RangeError)
    assert.throws(() => encode(Number.NaN), RangeError)
  })
})

describe("accessors", () => {
  const d = { i: 7, b: ascii("héllo"), l: [1], d: { x: 1 }, bad: Uint8Array.of(0xc3) }
  it("get* return undefined on a missing field or another type", () => {
    assert.strictEqual(getInt(d, "i"), 7)
    assert.strictEqual(getInt(d, "b"), undefined)
    assert.strictEqual(getInt(d, "nope"), undefined)
    assert.deepStrictEqual(getDict(d, "d"), { x: 1 })
    assert.strictEqual(getDict(d, "l"), undefined)
    assert.strictEqual(getString(d, "b"), "héllo")
    assert.strictEqual(getString(d, "bad"), undefined)
    assert.strictEqual(utf8(Uint8Array.of(0xff)), undefined)
  })
  it("expect* name the field in a typed error", () => {
    const missing = expectInt(d, "nope")
    assert.isTrue(Result.isFailure(missing) && missing.failure.reason === "MissingField")
    const wrong = expectBytes(d, "i")
    assert.isTrue(Result.isFailure(wrong) && wrong.failure.reason === "WrongType")
    if (Result.isFailure(wrong)) assert.strictEqual(wrong.failure.message, `field "i" should be a byte string, found integer`)
    assert.deepStrictEqual(expectInt(d, "i"), Result.succeed(7))
  })
})

describe("info span", () => {
  it("finds the exact bytes of an unsorted info dict (never a re-encoding)", () => {
    const file = new Uint8Array(readFileSync("fixtures/conformance/libtorrent/unordered.torrent"))
    const span = infoSpan(file)
    if (Result.isFailure(span)) return assert.fail(span.failure.message)
    const raw = file.subarray(span.success.start, span.success.end)
    const re = decode(raw)
    if (Result.isFailure(re)) return assert.fail(re.failure.message)
    assert.notDeepEqual(encode(re.success), raw) // a re-encoding would sort the keys
    assert.strictEqual(raw[0], 0x64)
    assert.strictEqual(raw[raw.length - 1], 0x65)
  })
  it("reports a missing info entry", () => {
    const r = infoSpan(ascii("d3:fooi1ee"))
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "MissingField")
  })
})

// Dict keys restricted to ASCII: the oracle (npm `bencode`) turns other keys into text or hex.
const asciiKey = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 8 })
const { value: arbValue } = fc.letrec<{ value: BencodeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 24 }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(asciiKey, tie("value"), { maxKeys: 5, noNullPrototype: true })
  )
}))
const binaryKey = fc.uint8Array({ maxLength: 6 }).map(keyFromBytes)

describe("bencode properties", () => {
  it("encode -> decode is the identity, and encoding is canonical", () => {
    fc.assert(fc.property(arbValue, (v) => {
      const bytes = encode(v)
      const back = decode(bytes)
      assert.isTrue(Result.isSuccess(back))
      if (Result.isSuccess(back)) {
        assert.deepStrictEqual(encode(back.success), bytes)
        assert.deepStrictEqual(JSON.stringify(back.success, replacer), JSON.stringify(v, replacer))
      }
    }))
  })

  it("binary dict keys round-trip", () => {
    fc.assert(fc.property(fc.dictionary(binaryKey, fc.maxSafeInteger(), { maxKeys: 6, noNullPrototype: true }), (d) => {
      const back = decode(encode(d))
      assert.isTrue(Result.isSuccess(back) && encode(back.success).length === encode(d).length)
      if (Result.isSuccess(back) && isDict(back.success)) {
        assert.deepStrictEqual(Object.keys(back.success).sort(), Object.keys(d).sort())
      }
    }))
  })

  it("agrees with the npm bencode package on canonical input", () => {
    fc.assert(fc.property(arbValue, (v) => {
      const bytes = encode(v)
      assert.deepStrictEqual(bencodeOracle.encode(v), bytes)
      const ours = decode(bytes)
      assert.isTrue(Result.isSuccess(ours))
      if (Result.isSuccess(ours)) {
        assert.strictEqual(JSON.stringify(bencodeOracle.decode(bytes), replacer), JSON.stringify(ours.success, replacer))
      }
    }))
  })

  it("random bytes never throw: a value or a typed error", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const r = decode(bytes)
      if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "BencodeError")
    }), { numRuns: 2000 })
  })

  it("bencode-shaped random text never throws", () => {
    const alphabet = fc.constantFrom(..."ilde0123456789:-abx".split(""))
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 40 }), (s) => {
      const r = decode(ascii(s))
      if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "BencodeError")
      else assert.deepStrictEqual(encode(r.success).length <= s.length, true)
    }), { numRuns: 3000 })
  })

  it("mutated valid encodings never throw", () => {
    fc.assert(fc.property(arbValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
      const bytes = encode(v).slice()
      bytes[at % bytes.length] = byte
      const r = decode(bytes)
      if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "BencodeError")
    }), { numRuns: 2000 })
  })
})

function replacer(_key: string, value: unknown) {
  if (value instanceof Uint8Array) return `bytes:${Array.from(value).join(",")}`
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  return value
}
