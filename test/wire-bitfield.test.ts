import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { Bitfield } from "../src/wire/index.ts"

describe("wire bitfield", () => {
  it("bit 7 of byte 0 is piece 0 (BEP 3)", () => {
    const bf = Bitfield.make(10)
    assert.strictEqual(bf.bytes.length, 2)
    assert.isTrue(Bitfield.set(bf, 0))
    assert.isTrue(Bitfield.set(bf, 9))
    assert.deepStrictEqual([...bf.bytes], [0b1000_0000, 0b0100_0000])
    assert.isFalse(Bitfield.set(bf, 0)) // already set
    assert.isTrue(Bitfield.get(bf, 9) && !Bitfield.get(bf, 8))
    assert.strictEqual(Bitfield.count(bf), 2)
    assert.deepStrictEqual([...Bitfield.setIndices(bf)], [0, 9])
    assert.isTrue(Bitfield.clear(bf, 0) && !Bitfield.clear(bf, 0))
    assert.strictEqual(Bitfield.count(bf), 1)
  })

  it("out-of-range indices are ignored, never written into spare bits", () => {
    const bf = Bitfield.make(10)
    for (const i of [-1, 10, 15, 16, 1.5, Number.NaN]) {
      assert.isFalse(Bitfield.set(bf, i))
      assert.isFalse(Bitfield.get(bf, i))
    }
    assert.isTrue(Bitfield.isEmpty(bf))
  })

  it("full() sets exactly pieceCount bits and is a valid wire bitfield", () => {
    for (const n of [0, 1, 7, 8, 9, 17, 1000]) {
      const bf = Bitfield.full(n)
      assert.strictEqual(Bitfield.count(bf), n)
      assert.isTrue(Bitfield.isComplete(bf))
      assert.isTrue(Result.isSuccess(Bitfield.fromWire(bf.bytes, n)))
    }
  })

  it("fromWire rejects a wrong length or spare bits, with messages", () => {
    const len = Bitfield.fromWire(new Uint8Array(3), 10)
    assert.isTrue(Result.isFailure(len) && len.failure.message === "bitfield: expected 2 bytes for 10 pieces, got 3")
    const spare = Bitfield.fromWire(Uint8Array.of(0xff, 0b1110_0000), 10)
    assert.isTrue(Result.isFailure(spare) && spare.failure.reason === "BadBitfield")
    if (Result.isFailure(spare)) assert.strictEqual(spare.failure.message, "bitfield: spare bits after piece 9 are set")
    const ok = Bitfield.fromWire(Uint8Array.of(0xff, 0b1100_0000), 10)
    assert.isTrue(Result.isSuccess(ok) && Bitfield.isComplete(ok.success))
  })

  it("fromWire copies: later changes to the socket chunk do not leak in", () => {
    const wire = Uint8Array.of(0b1000_0000)
    const r = Bitfield.fromWire(wire, 8)
    wire[0] = 0xff
    assert.isTrue(Result.isSuccess(r) && Bitfield.count(r.success) === 1)
  })

  it("property: set/get/count/setIndices agree with a Set model", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.array(fc.integer({ min: -5, max: n + 5 }), { maxLength: 100 }))
        ),
        ([n, ops]) => {
          const bf = Bitfield.make(n)
          const model = new Set<number>()
          for (const i of ops) {
            const fresh = i >= 0 && i < n && !model.has(i)
            assert.strictEqual(Bitfield.set(bf, i), fresh)
            if (i >= 0 && i < n) model.add(i)
          }
          assert.strictEqual(Bitfield.count(bf), model.size)
          assert.deepStrictEqual([...Bitfield.setIndices(bf)], [...model].sort((a, b) => a - b))
          // whatever we built is a valid bitfield for n pieces
          assert.isTrue(Result.isSuccess(Bitfield.fromWire(bf.bytes, n)))
        }
      )
    )
  })

  it("property: fromWire accepts exactly the byte arrays with the right length and clean spare bits", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6 }), fc.integer({ min: 0, max: 48 }), (bytes, n) => {
        const expectOk = bytes.length === Math.ceil(n / 8) &&
          [...Array(bytes.length * 8 - n).keys()].every((k) => ((bytes[bytes.length - 1] ?? 0) & (1 << k)) === 0)
        assert.strictEqual(Result.isSuccess(Bitfield.fromWire(bytes, n)), expectOk)
      }),
      { numRuns: 3000 }
    )
  })
})
