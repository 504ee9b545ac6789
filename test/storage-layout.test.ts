/** The pure parts of storage: piece/file geometry, path checks, bitfields, block assembly, LRU, errno mapping. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Bitfield from "../src/storage/bitfield.ts"
import { fromIoError } from "../src/storage/errors.ts"
import { isInside, type Layout, makeLayout, pieceSpans, resolveInside, spans, wantedPieces } from "../src/storage/layout.ts"
import { makeLru } from "../src/storage/lru.ts"
import { fromHex, sha1, toHex } from "../src/bytes.ts"
import { addBlock, digest, isAligned, isComplete, makePartial } from "../src/storage/partial.ts"
import { makeFixture, pseudoRandomBytes } from "./storage-helpers.ts"

const layoutOf = (lengths: ReadonlyArray<number>, pieceLength: number): Layout => {
  const fixture = makeFixture(lengths.map((length, i) => ({ path: [`f${i}`], length })), pieceLength)
  const result = makeLayout(fixture.meta, 1 << 26)
  if (result._tag !== "Ok") throw new Error(result.message)
  return result.layout
}

describe("storage layout", () => {
  it("spans cover a range exactly, in file order, skipping empty files", () => {
    const layout = layoutOf([100, 0, 50, 0, 0, 1000], 64)
    assert.deepStrictEqual(spans(layout, 90, 70), [
      { file: 0, fileOffset: 90, offset: 0, length: 10, padding: false },
      { file: 2, fileOffset: 0, offset: 10, length: 50, padding: false },
      { file: 5, fileOffset: 0, offset: 60, length: 10, padding: false }
    ])
    assert.deepStrictEqual(pieceSpans(layout, 17), [{ file: 5, fileOffset: 938, offset: 0, length: 62, padding: false }])
  })

  it("property: spans of every piece tile the payload", () => {
    fc.assert(fc.property(
      fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 200 }),
      (lengths, pieceLength) => {
        const total = lengths.reduce((a, b) => a + b, 0)
        fc.pre(total > 0)
        const layout = layoutOf(lengths, pieceLength)
        let pos = 0
        for (let p = 0; p < layout.pieceCount; p++) {
          for (const s of pieceSpans(layout, p)) {
            const f = layout.files[s.file]
            assert.isAbove(s.length, 0)
            assert.strictEqual((f?.offset ?? -1) + s.fileOffset, pos)
            assert.isAtMost(s.fileOffset + s.length, f?.length ?? -1)
            pos += s.length
          }
        }
        assert.strictEqual(pos, total)
      }
    ))
  })

  it("rejects inconsistent metainfo and oversized pieces", () => {
    const { meta } = makeFixture([{ path: ["a"], length: 1000 }, { path: ["b"], length: 10 }], 256)
    assert.strictEqual(makeLayout(meta, 1 << 20)._tag, "Ok")
    const badOffset = { ...meta, files: meta.files.map((f, i) => (i === 1 ? { ...f, offset: 999 } : f)) }
    assert.strictEqual(makeLayout(badOffset, 1 << 20)._tag, "Invalid")
    assert.strictEqual(makeLayout(meta, 255)._tag, "Invalid")
    assert.strictEqual(makeLayout({ ...meta, pieceLength: 0 }, 1 << 20)._tag, "Invalid")
  })

  it("wanted pieces: any overlap with a wanted real file", () => {
    const layout = layoutOf([100, 100, 100], 64)
    // pieces: [0,64) f0, [64,128) f0 f1, [128,192) f1, [192,256) f1 f2, [256,300) f2
    assert.deepStrictEqual(wantedPieces(layout, [false, true, false]), [false, true, true, true, false])
    assert.deepStrictEqual(wantedPieces(layout, undefined), [true, true, true, true, true])
  })

  it("paths stay inside the root", () => {
    assert.deepStrictEqual(resolveInside("/d", ["t", "a.bin"]), { _tag: "Ok", path: "/d/t/a.bin" })
    assert.strictEqual(resolveInside("/d", ["..foo"])._tag, "Ok")
    for (const bad of [["..", "x"], ["."], [""], ["a\0b"], ["a\\b"], ["/etc"], [], [".effect-torrent", "x"]]) {
      assert.strictEqual(resolveInside("/d", bad)._tag, "Refused", JSON.stringify(bad))
    }
    assert.isTrue(isInside("/d", "/d/x"))
    assert.isFalse(isInside("/d", "/d"))
    assert.isFalse(isInside("/d", "/dx/y"))
    assert.isFalse(isInside("/d", "/x"))
  })
})

describe("storage building blocks", () => {
  it("bitfields: BEP 3 bit order, hex round trip, spare bits rejected", () => {
    const bits = Bitfield.fromBooleans([true, false, false, false, false, false, false, false, false, true])
    assert.deepStrictEqual(bits, Uint8Array.of(0x80, 0x40))
    assert.strictEqual(Bitfield.count(bits, 10), 2)
    assert.deepStrictEqual(Bitfield.checked(fromHex(toHex(bits)), 10), bits)
    assert.isNull(Bitfield.checked(fromHex("8060"), 10))
    assert.isNull(Bitfield.checked(fromHex("80"), 10))
    assert.isNull(Bitfield.checked(fromHex("zz40"), 10))
  })

  it("partial pieces: alignment, duplicates, incremental hash equals one-shot hash", () => {
    assert.isTrue(isAligned(40000, 16384, 32768, 7232))
    assert.isFalse(isAligned(40000, 16384, 32768, 100))
    assert.isFalse(isAligned(40000, 16384, 100, 16384))
    const data = pseudoRandomBytes(40000, 3)
    // inline (incremental) hashing, and none (a PieceHasher hashes the completed buffer)
    for (const incremental of [true, false]) {
      const p = makePartial(new Uint8Array(40000), 16384, incremental)
      assert.isTrue(addBlock(p, 32768, data.subarray(32768)))
      assert.isTrue(addBlock(p, 0, data.subarray(0, 16384)))
      assert.isFalse(addBlock(p, 0, data.subarray(0, 16384)))
      assert.isFalse(isComplete(p))
      assert.isTrue(addBlock(p, 16384, data.subarray(16384, 32768)))
      assert.isTrue(isComplete(p))
      assert.strictEqual(p.hashed, incremental ? 3 : 0)
      assert.deepStrictEqual(digest(p), sha1(data))
      assert.deepStrictEqual(p.buffer, data)
    }
  })

  it("LRU evicts least recently used entries by weight", () => {
    const lru = makeLru<string, number>(10)
    lru.set("a", 1, 4)
    lru.set("b", 2, 4)
    assert.strictEqual(lru.get("a"), 1) // a is now the most recent
    lru.set("c", 3, 4)
    assert.isUndefined(lru.get("b"))
    assert.strictEqual(lru.get("a"), 1)
    assert.strictEqual(lru.weight(), 8)
    lru.set("huge", 4, 11)
    assert.isUndefined(lru.get("huge"))
  })

  it("errno codes map to reasons and messages name the file", () => {
    const err = (code: string) => Object.assign(new Error(code), { code })
    const full = fromIoError(err("ENOSPC"), "write", "/d/a.bin")
    assert.strictEqual(full.reason, "DiskFull")
    assert.include(full.message, "/d/a.bin")
    assert.strictEqual(fromIoError(err("EACCES"), "open", "x").reason, "PermissionDenied")
    assert.strictEqual(fromIoError(err("EPERM"), "open", "x").reason, "PermissionDenied")
    assert.strictEqual(fromIoError(err("EIO"), "read", "x").reason, "Io")
  })
})
