import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import {
  formatMagnet,
  fromBase32,
  type Magnet,
  type MagnetErrorReason,
  parseMagnet,
  parseMagnetResult,
  toBase32
} from "../src/metainfo/index.ts"
import { fromHex, toHex } from "../src/bytes.ts"
import { formatAddress, parseAddress } from "../src/net/index.ts"

const HEX = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
const V2 = "d8dd32ac93357c368556af3ac1d95c9d76bd0dff6fa9833ecdac3d53134efabb"

const ok = (uri: string): Magnet => {
  const r = parseMagnetResult(uri)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

describe("parseMagnet", () => {
  it("reads a full BEP 9 link", () => {
    const m = ok(
      `magnet:?xt=urn:btih:${HEX.toUpperCase()}&dn=Big+Buck%20Bunny&tr=udp%3A%2F%2Ft.example%3A80&tr=http://t2/a&tr=http://t2/a` +
        `&ws=https%3A%2F%2Fseed%2Ff&x.pe=10.0.0.1:6881&x.pe=[::1]:51413&x.pe=bogus&so=0,2,4-6&unknown=1`
    )
    assert.strictEqual(toHex(m.infoHash ?? new Uint8Array()), HEX)
    assert.strictEqual(m.infoHashV2, null)
    assert.strictEqual(m.name, "Big Buck Bunny")
    assert.deepStrictEqual(m.trackers, ["udp://t.example:80", "http://t2/a"])
    assert.deepStrictEqual(m.webSeeds, ["https://seed/f"])
    assert.deepStrictEqual(m.peers, [{ host: "10.0.0.1", port: 6881 }, { host: "::1", port: 51413 }])
    assert.deepStrictEqual(m.selectOnly, [0, 2, 4, 5, 6])
  })

  it("reads base32 v1 hashes and BEP 52 multihash v2 hashes (hybrid links)", () => {
    const b32 = toBase32(fromHex(HEX) ?? new Uint8Array())
    assert.strictEqual(b32.length, 32)
    const m = ok(`magnet:?xt=urn:btih:${b32.toLowerCase()}&xt=urn:btmh:1220${V2}`)
    assert.strictEqual(toHex(m.infoHash ?? new Uint8Array()), HEX)
    assert.strictEqual(toHex(m.infoHashV2 ?? new Uint8Array()), V2)
    const v2only = ok(`magnet:?xt=urn:btmh:1220${V2}&dn=x`)
    assert.strictEqual(v2only.infoHash, null)
    assert.strictEqual(v2only.selectOnly, null)
  })

  it.each([
    ["http://example.com/?xt=urn:btih:" + HEX, "NotAMagnet"],
    ["magnet:?dn=nohash", "MissingInfoHash"],
    ["magnet:?xt=urn:sha1:" + HEX, "MissingInfoHash"],
    ["magnet:?xt=urn:btih:" + HEX.slice(1), "InvalidInfoHash"],
    ["magnet:?xt=urn:btih:" + "z".repeat(40), "InvalidInfoHash"],
    ["magnet:?xt=urn:btih:" + "1".repeat(32), "InvalidInfoHash"],
    ["magnet:?xt=urn:btmh:1114" + V2, "InvalidInfoHash"],
    ["magnet:?xt=urn:btmh:1220" + V2.slice(2), "InvalidInfoHash"],
    [`magnet:?xt=urn:btih:${HEX}&xt=urn:btih:${"0".repeat(40)}`, "ConflictingInfoHash"],
    [`magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, "MalformedEncoding"],
    [`magnet:?xt=urn:btih:${HEX}&so=1,x`, "InvalidSelectOnly"],
    [`magnet:?xt=urn:btih:${HEX}&so=5-2`, "InvalidSelectOnly"],
    [`magnet:?xt=urn:btih:${HEX}&so=0-999999999`, "LimitExceeded"],
    ["magnet:?xt=urn:btih:" + HEX + "&dn=" + "a".repeat(70_000), "LimitExceeded"]
  ] as const)("rejects %s", (uri, reason: MagnetErrorReason) => {
    const r = parseMagnetResult(uri)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.reason, reason, r.failure.message)
      assert.isTrue(r.failure.message.startsWith("invalid magnet link: "))
    }
  })

  it.effect("the Effect API fails with a typed MagnetError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(parseMagnet("magnet:?dn=x"))
      assert.strictEqual(e._tag, "MagnetError")
      assert.strictEqual(e.message, "invalid magnet link: no 'xt=urn:btih:' or 'xt=urn:btmh:' info-hash")
      const m = yield* parseMagnet(`magnet:?xt=urn:btih:${HEX}`)
      assert.strictEqual(m.name, null)
    }))
})

describe("formatMagnet", () => {
  it("formats hex hashes, encodes values and compresses so ranges", () => {
    const uri = formatMagnet({
      infoHash: fromHex(HEX) ?? null,
      infoHashV2: fromHex(V2) ?? null,
      name: "a+b c&d",
      trackers: ["udp://t:1/announce"],
      webSeeds: [],
      peers: [{ host: "1.2.3.4", port: 5 }],
      selectOnly: [6, 0, 4, 5, 2]
    })
    assert.strictEqual(
      uri,
      `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${V2}&dn=a%2Bb%20c%26d&tr=udp%3A%2F%2Ft%3A1%2Fannounce&x.pe=1.2.3.4%3A5&so=0,2,4-6`
    )
  })
})

describe("encodings", () => {
  it("base32 and hex round-trip any bytes; bad input gives undefined", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      assert.deepStrictEqual(fromHex(toHex(b)), b)
      const back = fromBase32(toBase32(b))
      assert.deepStrictEqual(back, b)
    }))
    assert.strictEqual(fromHex("zz"), undefined)
    assert.strictEqual(fromHex("abc"), undefined)
    assert.strictEqual(fromBase32("1"), undefined)
  })
})

// parsed from text, so normalised as a parsed magnet's peers are
const peer = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `[${h}]:${p}`)
).map((text) => parseAddress(text) ?? { host: "0.0.0.0", port: 1 })
const nonEmpty = fc.string({ minLength: 1, maxLength: 30, unit: "grapheme" })
const magnetArb: fc.Arbitrary<Magnet> = fc.record({
  infoHash: fc.option(fc.uint8Array({ minLength: 20, maxLength: 20 }), { nil: null }),
  infoHashV2: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
  name: fc.option(fc.string({ maxLength: 40, unit: "grapheme" }), { nil: null }),
  trackers: fc.uniqueArray(nonEmpty, { maxLength: 4 }),
  webSeeds: fc.uniqueArray(fc.webUrl(), { maxLength: 3 }),
  peers: fc.uniqueArray(peer, { maxLength: 3, selector: formatAddress }),
  selectOnly: fc.option(
    fc.uniqueArray(fc.nat(5000), { minLength: 1, maxLength: 30 }).map((a) => a.sort((x, y) => x - y)),
    { nil: null }
  )
}).filter((m) => m.infoHash !== null || m.infoHashV2 !== null)

describe("magnet properties", () => {
  it("format -> parse round-trips", () => {
    fc.assert(fc.property(magnetArb, (m) => {
      assert.deepStrictEqual(ok(formatMagnet(m)), m)
    }), { numRuns: 500 })
  })

  it("arbitrary strings never throw", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => {
      for (const uri of [s, `magnet:?${s}`, `magnet:?xt=urn:btih:${HEX}&${s}`]) {
        const r = parseMagnetResult(uri)
        if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "MagnetError")
      }
    }), { numRuns: 1000 })
  })
})
