/** The pure parts of web seeds: merging blocks into runs, cutting runs into requests, URLs, headers. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { PieceIndex } from "../src/ids.ts"
import type { TorrentFile } from "../src/metainfo/index.ts"
import { makePicker } from "../src/scheduler/index.ts"
import type { Block } from "../src/scheduler/index.ts"
import { fileParts, mergeRuns, parseContentRange, parseRetryAfter, pieceParts, pieceUrl } from "../src/webseed/index.ts"

const filesOf = (specs: ReadonlyArray<{ length: number; padding: boolean }>): ReadonlyArray<TorrentFile> => {
  let offset = 0
  return specs.map((s, i) => {
    const f: TorrentFile = { path: [`f${i}`], length: s.length, offset, padding: s.padding, attr: s.padding ? "p" : "", piecesRoot: null }
    offset += s.length
    return f
  })
}

const block = (piece: number, begin: number, length = 16384): Block => ({ piece: PieceIndex(piece), begin, length })

describe("web seed plans", () => {
  it("merges adjacent blocks across pieces into one run, in byte order", () => {
    const runs = mergeRuns([block(1, 0), block(0, 16384), block(0, 0), block(3, 0)], 32768)
    assert.deepStrictEqual(runs.map((r) => [r.start, r.length, r.blocks.length]), [[0, 49152, 3], [98304, 16384, 1]])
  })

  it("cuts a run at file boundaries; padding files become zeros and empty files vanish", () => {
    const files = filesOf([{ length: 100, padding: false }, { length: 28, padding: true }, { length: 0, padding: false }, { length: 500, padding: false }])
    assert.deepStrictEqual(fileParts(files, { start: 50, length: 200 }), [
      { _tag: "File", at: 0, length: 50, file: 0, offset: 50 },
      { _tag: "Zeros", at: 50, length: 28 },
      { _tag: "File", at: 78, length: 122, file: 3, offset: 0 }
    ])
  })

  it("property: parts tile the run exactly, each within its file, padding never requested", () => {
    fc.assert(fc.property(
      fc.array(fc.record({ length: fc.integer({ min: 0, max: 5000 }), padding: fc.boolean() }), { minLength: 1, maxLength: 12 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (specs, a, b) => {
        const files = filesOf(specs)
        const total = specs.reduce((n, s) => n + s.length, 0)
        if (total === 0) return
        const start = Math.floor(a * (total - 1))
        const length = 1 + Math.floor(b * (total - start - 1))
        const parts = fileParts(files, { start, length })
        let at = 0
        for (const p of parts) {
          assert.strictEqual(p.at, at)
          assert.isAbove(p.length, 0)
          if (p._tag === "File") {
            const f = files[p.file]
            assert.isDefined(f)
            assert.isFalse(f?.padding)
            assert.strictEqual((f?.offset ?? 0) + p.offset, start + p.at)
            assert.isAtMost(p.offset + p.length, f?.length ?? 0)
          }
          at += p.length
        }
        assert.strictEqual(at, length)
      }
    ))
  })

  it("cuts a run at piece boundaries for BEP 17", () => {
    assert.deepStrictEqual(pieceParts(100, { start: 150, length: 120 }), [
      { _tag: "Piece", at: 0, length: 50, piece: PieceIndex(1), begin: 50 },
      { _tag: "Piece", at: 50, length: 70, piece: PieceIndex(2), begin: 0 }
    ])
  })

  it("a contiguous pick continues with the next piece, so a seed's blocks merge into one run", () => {
    const picker = makePicker<string>({ pieceCount: 64, pieceLength: 32768, totalSize: 64 * 32768 })
    assert.isTrue(picker._tag === "Success")
    if (picker._tag !== "Success") return
    const p = picker.success
    p.peerHasAll("seed")
    let r = 0.37
    const random = () => (r = (r * 9301 + 49297) % 233280 / 233280)
    const blocks = p.pick("seed", 32, random, true)
    assert.strictEqual(blocks.length, 32)
    assert.strictEqual(mergeRuns(blocks, 32768).length <= 2, true, "at most one wrap past the last piece")
  })

  it("reads Content-Range and Retry-After", () => {
    assert.deepStrictEqual(parseContentRange("bytes 0-99/1000"), { first: 0, last: 99, total: 1000 })
    assert.deepStrictEqual(parseContentRange("bytes 5-9/*"), { first: 5, last: 9, total: null })
    assert.isUndefined(parseContentRange("bytes 9-5/10"))
    assert.isUndefined(parseContentRange("bytes 0-10/10"))
    assert.isUndefined(parseContentRange("items 0-1/2"))
    assert.strictEqual(parseRetryAfter("120", 0), 120_000)
    assert.strictEqual(parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:27:00 GMT")), 60_000)
    assert.isUndefined(parseRetryAfter("soon", 0))
  })

  it("BEP 17 URLs name the piece, and a range only for part of one", () => {
    const hash = new Uint8Array(20).fill(0xab)
    const enc = "%AB".repeat(20)
    assert.strictEqual(pieceUrl("http://s/seed", hash, 3, 0, 100, 100), `http://s/seed?info_hash=${enc}&piece=3`)
    assert.strictEqual(pieceUrl("http://s/seed?x=1", hash, 3, 16, 10, 100), `http://s/seed?x=1&info_hash=${enc}&piece=3&ranges=16-25`)
  })
})
