import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { createHash } from "node:crypto"
import { bytesEqual, compareBytes, fromHex, latin1, sha1, sha256, toHex } from "../src/bytes.ts"

describe("bytes: the one home of hex, equality and digests", () => {
  it("hex: lower case out, either case in, round trip of any bytes; bad text is undefined", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
      const text = toHex(b)
      assert.strictEqual(text, Buffer.from(b).toString("hex"))
      assert.deepStrictEqual(fromHex(text), b)
      assert.deepStrictEqual(fromHex(text.toUpperCase()), b)
    }))
    for (const bad of ["abc", "zz", "0g", "é0", " 00"]) assert.isUndefined(fromHex(bad), bad)
  })

  it("compareBytes orders as Buffer.compare (unsigned, a prefix first), on whole arrays and on ranges of one", () => {
    const sign = (n: number) => Math.sign(n)
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
      assert.strictEqual(sign(compareBytes(a, b)), Buffer.compare(a, b))
      const joined = new Uint8Array([...a, ...b])
      assert.strictEqual(sign(compareBytes(joined, joined, 0, a.length, a.length, joined.length)), Buffer.compare(a, b))
    }))
    assert.isBelow(compareBytes(Uint8Array.of(1), Uint8Array.of(1, 0)), 0)
    assert.isAbove(compareBytes(Uint8Array.of(0x80), Uint8Array.of(0x7f, 0xff)), 0)
  })

  it("bytesEqual agrees with element-wise comparison, short and long (the memcmp path)", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (a, at, delta) => {
      const copy = a.slice()
      assert.isTrue(bytesEqual(a, copy))
      if (a.length > 0) {
        const i = at % a.length
        copy[i] = ((copy[i] ?? 0) + delta) & 0xff
        assert.isFalse(bytesEqual(a, copy))
      }
      assert.isFalse(bytesEqual(a, new Uint8Array(a.length + 1)))
    }))
    // views: only the viewed bytes count
    const buffer = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff)
    assert.isTrue(bytesEqual(buffer.subarray(256, 300), buffer.subarray(0, 44)))
    assert.isFalse(bytesEqual(buffer.subarray(1, 101), buffer.subarray(0, 100)))
  })

  it("latin1: one char per byte, exact for every byte value and length", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 10_000 }), (b) => {
      assert.strictEqual(latin1(b), Buffer.from(b).toString("latin1"))
    }))
  })

  it("sha1 / sha256 match node:crypto (FIPS 180 'abc' vectors)", () => {
    const abc = new TextEncoder().encode("abc")
    assert.strictEqual(toHex(sha1(abc)), "a9993e364706816aba3e25717850c26c9cd0d89d")
    assert.strictEqual(toHex(sha256(abc)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    assert.deepStrictEqual(sha1("abc"), sha1(abc))
    const big = new Uint8Array(100_000).fill(7)
    assert.deepStrictEqual(sha1(big), new Uint8Array(createHash("sha1").update(big).digest()))
  })
})
