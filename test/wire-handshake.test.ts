import { assert, describe, it } from "@effect/vitest"
import { toHex as hex } from "../src/bytes.ts"
import { Effect, Random, Result, Schema } from "effect"
import * as fc from "fast-check"
import { encode } from "../src/bencode/index.ts"
import {
  capabilities,
  clientFromPeerId,
  decodeExtendedHandshake,
  decodeFrame,
  decodeHandshake,
  decodeHandshakeHeader,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  ExtendedHandshake,
  ExtendedHandshakeFromBytes,
  extendedHandshakeMessage,
  makePeerId,
  makeReserved,
  supportsDht,
  supportsExtensionProtocol,
  supportsFast
} from "../src/wire/index.ts"

const ascii = (s: string) => new TextEncoder().encode(s)
const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i + 1)
const peerId = ascii("-TR4000-abcdefghijkl")

describe("wire handshake", () => {
  it("encodes the 68-byte BEP 3 layout", () => {
    const hs = encodeHandshake({ infoHash, peerId, reserved: makeReserved({ extensionProtocol: true, fast: true, dht: true }) })
    assert.strictEqual(hs.length, 68)
    assert.strictEqual(hs[0], 19)
    assert.strictEqual(new TextDecoder().decode(hs.subarray(1, 20)), "BitTorrent protocol")
    assert.strictEqual(hex(hs.subarray(20, 28)), "0000000000100005")
    assert.strictEqual(hex(hs.subarray(28, 48)), hex(infoHash))
    assert.strictEqual(hex(hs.subarray(48)), hex(peerId))
  })

  it("decodes back, with copies of the fields", () => {
    const hs = encodeHandshake({ infoHash, peerId })
    const r = decodeHandshake(hs)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    assert.strictEqual(hex(r.success.infoHash), hex(infoHash))
    assert.strictEqual(hex(r.success.peerId), hex(peerId))
    assert.strictEqual(hex(r.success.reserved), "0000000000000000")
    assert.notStrictEqual(r.success.infoHash.buffer, hs.buffer)
  })

  it("the 48-byte header decodes alone (route by info-hash before the peer id)", () => {
    const hs = encodeHandshake({ infoHash, peerId, reserved: makeReserved({ fast: true }) })
    const r = decodeHandshakeHeader(hs.subarray(0, 48))
    assert.isTrue(Result.isSuccess(r) && hex(r.success.infoHash) === hex(infoHash) && supportsFast(r.success.reserved))
  })

  it("rejects wrong length, pstrlen and pstr with typed errors", () => {
    const hs = encodeHandshake({ infoHash, peerId })
    const short = decodeHandshake(hs.subarray(0, 67))
    assert.isTrue(Result.isFailure(short) && short.failure.message === "handshake: expected 68 bytes, got 67")
    const badLen = hs.slice()
    badLen[0] = 18
    const a = decodeHandshake(badLen)
    assert.isTrue(Result.isFailure(a) && a.failure.reason === "BadHandshake")
    const badStr = hs.slice()
    badStr[5] = 0x21
    const b = decodeHandshake(badStr)
    assert.isTrue(Result.isFailure(b) && b.failure.message === `handshake: protocol string is not "BitTorrent protocol"`)
  })

  it("reserved bits (BEP 10 / BEP 6 / BEP 5 / BEP 52)", () => {
    const none = new Uint8Array(8)
    assert.deepStrictEqual(capabilities(none), { extensionProtocol: false, fast: false, dht: false, v2: false })
    const r = Uint8Array.of(0, 0, 0, 0, 0, 0x10, 0, 0x05)
    assert.isTrue(supportsExtensionProtocol(r) && supportsFast(r) && supportsDht(r))
    assert.deepStrictEqual(capabilities(makeReserved({ dht: true })), { extensionProtocol: false, fast: false, dht: true, v2: false })
    // BEP 52: "the 4th most significant bit in the last byte"
    assert.deepStrictEqual([...makeReserved({ v2: true, fast: true })], [0, 0, 0, 0, 0, 0, 0, 0x14])
    assert.isTrue(capabilities(Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0x10)).v2)
    assert.isFalse(supportsExtensionProtocol(Uint8Array.of(0, 0, 0, 0, 0, 0xef, 0xff, 0xfa)))
  })

  it("random 68-byte inputs never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70 }), (b) => {
        const r = decodeHandshake(b)
        if (Result.isFailure(r)) assert.strictEqual(r.failure.reason, "BadHandshake")
      })
    )
  })
})

describe("wire peer ids (BEP 20)", () => {
  it.effect("makePeerId: prefix + 12 printable random chars from Effect's Random", () =>
    Effect.gen(function*() {
      const id = yield* makePeerId()
      assert.strictEqual(id.length, 20)
      const s = new TextDecoder().decode(id)
      assert.match(s, /^-ET0100-[0-9A-Za-z]{12}$/)
      const [a, b] = yield* Effect.all([makePeerId("-XX1234-"), makePeerId("-XX1234-")]).pipe(Random.withSeed(7))
      const [c] = yield* Effect.all([makePeerId("-XX1234-")]).pipe(Random.withSeed(7))
      assert.strictEqual(hex(a ?? new Uint8Array()), hex(c ?? new Uint8Array()))
      assert.notStrictEqual(hex(a ?? new Uint8Array()), hex(b ?? new Uint8Array()))
      assert.strictEqual(new TextDecoder().decode(yield* makePeerId("M1-2-3--")).slice(0, 8), "M1-2-3--")
      assert.strictEqual((yield* makePeerId("x".repeat(30))).length, 20)
    }))

  it("names common clients", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["-ET0001-aaaaaaaaaaaa", "effect-torrent 0.0.0.1"],
      ["-LT2090-aaaaaaaaaaaa", "libtorrent 2.0.9"],
      ["-lt0D80-aaaaaaaaaaaa", "libTorrent (rakshasa) 0.13.8"],
      ["-TR4000-aaaaaaaaaaaa", "Transmission 4.0.0"],
      ["-qB4630-aaaaaaaaaaaa", "qBittorrent 4.6.3"],
      ["-WW0207-aaaaaaaaaaaa", "WebTorrent 0.2.0.7"],
      ["A2-1-37-0-aaaaaaaaaa", "aria2 1.37.0"],
      ["-rQ8000-aaaaaaaaaaaa", "rqbit 8.0.0"],
      ["-rQx9.9.9xaaaaaaaaaa", "rqbit"],
      ["-UT355W-aaaaaaaaaaaa", "µTorrent 3.5.5"],
      ["-DE13F0-aaaaaaaaaaaa", "Deluge 1.3.15"],
      ["-ZZ1230-aaaaaaaaaaaa", `unknown client "ZZ" 1.2.3`],
      ["M4-3-6--aaaaaaaaaaaa", "Mainline 4.3.6"],
      ["Q1-10-0-aaaaaaaaaaaa", "Queen Bee 1.10.0"],
      ["S58B-----aaaaaaaaaaa", "Shadow 5.8.11"],
      ["T03I-----aaaaaaaaaaa", "BitTornado 0.3.18"],
      ["XBT054d-aaaaaaaaaaaa", "XBT 0.5.4 (debug)"]
    ]
    for (const [id, name] of cases) assert.strictEqual(clientFromPeerId(ascii(id)), name, id)
    const comet = ascii("exbc__LORDaaaaaaaaaa")
    comet[4] = 0
    comet[5] = 5
    assert.strictEqual(clientFromPeerId(comet), "BitLord 0.05")
  })

  it("unknown or binary ids give a readable fallback, never a throw", () => {
    assert.strictEqual(
      clientFromPeerId(Uint8Array.of(0, 1, 0x41, 0x42, 0xff, 0x20, 0x7e, 0x7f, 9, 9)),
      "unknown client (\\x00\\x01AB\\xff ~\\x7f)"
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20 }), (b) => {
        assert.isAbove(clientFromPeerId(b).length, 0)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("wire extended handshake (BEP 10)", () => {
  const full: ExtendedHandshake = {
    m: { ut_metadata: 3, ut_pex: 1, lt_donthave: 0 },
    v: "µTorrent 1.2",
    p: 6881,
    reqq: 250,
    metadata_size: 31_337,
    yourip: Uint8Array.of(127, 0, 0, 1),
    upload_only: true,
    ipv4: Uint8Array.of(10, 0, 0, 2),
    ipv6: new Uint8Array(16).fill(0xfe)
  }

  it("round-trips through bencode and an Extended message", () => {
    const msg = extendedHandshakeMessage(full)
    const back = decodeFrame(encodeMessage(msg).subarray(4))
    assert.isTrue(Result.isSuccess(back))
    if (Result.isFailure(back) || back.success._tag !== "Extended") return
    assert.strictEqual(back.success.id, 0)
    const h = decodeExtendedHandshake(back.success.payload, { strict: true })
    assert.isTrue(Result.isSuccess(h))
    if (Result.isSuccess(h)) assert.deepStrictEqual(h.success, full)
  })

  it("decodes the BEP 10 example payload; unknown keys are ignored; m defaults to {}", () => {
    const payload = encode({ m: { LT_metadata: 1, ut_pex: 2 }, p: 6881, v: "µTorrent 1.2", e: 1, complete_ago: 5 })
    const r = decodeExtendedHandshake(payload)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success, { m: { LT_metadata: 1, ut_pex: 2 }, p: 6881, v: "µTorrent 1.2" })
    const empty = decodeExtendedHandshake(encode({}))
    assert.isTrue(Result.isSuccess(empty) && Object.keys(empty.success.m).length === 0)
  })

  it("encodes canonically (sorted keys, upload_only as 1)", () => {
    const bytes = encodeExtendedHandshake({ m: { ut_pex: 2, ut_metadata: 1 }, p: 1, upload_only: true })
    assert.strictEqual(new TextDecoder().decode(bytes), "d1:md11:ut_metadatai1e6:ut_pexi2ee1:pi1e11:upload_onlyi1ee")
  })

  it("lenient: a wrongly typed advisory field is dropped; strict: it is a typed error naming the field", () => {
    const payload = encode({ m: { ut_metadata: 2, bad: 300, worse: "x" }, p: 70000, v: 5, yourip: "abc", reqq: 10 })
    const lenient = decodeExtendedHandshake(payload)
    assert.isTrue(Result.isSuccess(lenient))
    if (Result.isSuccess(lenient)) assert.deepStrictEqual(lenient.success, { m: { ut_metadata: 2 }, reqq: 10 })
    const strict = decodeExtendedHandshake(payload, { strict: true })
    assert.isTrue(Result.isFailure(strict) && strict.failure.reason === "BadExtendedHandshake")
    if (Result.isFailure(strict)) assert.include(strict.failure.message, `"m.bad" must be an id 0..255`)
    const strictPort = decodeExtendedHandshake(encode({ m: {}, p: 70000 }), { strict: true })
    assert.isTrue(
      Result.isFailure(strictPort) &&
        strictPort.failure.message === `extended handshake: "p" must be a port 1..65535, got integer 70000`
    )
  })

  it("not a dict, bad bencode, or m not a dict are errors in every mode", () => {
    for (const bad of [encode([1, 2]), ascii("d1:mi1ee"), ascii("d1:m"), ascii("i5e"), new Uint8Array(0)]) {
      const r = decodeExtendedHandshake(bad)
      assert.isTrue(Result.isFailure(r) && r.failure.reason === "BadExtendedHandshake", new TextDecoder().decode(bad))
    }
  })

  it("random payloads never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.boolean(), (b, strict) => {
        const r = decodeExtendedHandshake(b, { strict })
        if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "WireError")
        else assert.isTrue(Schema.is(ExtendedHandshake)(r.success))
      }),
      { numRuns: 2000 }
    )
  })

  it.effect("Schema view decodes and validates on encode", () =>
    Effect.gen(function*() {
      const h = yield* Schema.decodeUnknownEffect(ExtendedHandshakeFromBytes)(encodeExtendedHandshake(full))
      assert.deepStrictEqual(h, full)
      const err = yield* Effect.flip(Schema.encodeUnknownEffect(ExtendedHandshakeFromBytes)({ m: { x: 256 } }))
      assert.strictEqual(err._tag, "SchemaError")
    }))
})
