/** The synchronous fast path of `putBlock`: what it takes, and what it leaves to `putBlock`. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { PieceIndex } from "../src/ids.ts"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Metainfo } from "../src/metainfo/model.ts"
import { FileStorage, MemoryStorage, type OpenOptions, type PutResult, Storage } from "../src/storage/index.ts"
import { blocksOf, makeFixture, pieceData, tempDir } from "./storage-helpers.ts"

const B = 16 * 1024

// FileStorage writes to disk, so the completing block goes to putBlock; MemoryStorage writes in
// memory, so putBlockSync verifies and stores it.
for (const [name, layer, completesSync] of [["FileStorage", FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer)), false], ["MemoryStorage", MemoryStorage.layer, true]] as const) {
  describe(`putBlockSync (${name})`, () => {
    const open = (meta: Metainfo, options: OpenOptions) => Storage.use((s) => s.open(meta, options)).pipe(Effect.provide(layer))

    it.live(completesSync ? "stores every block, verifying the one that completes its piece; bad input goes to putBlock" : "stores blocks that cannot complete their piece; the completing block and bad input go to putBlock", () =>
      Effect.gen(function*() {
        const directory = yield* tempDir
        const fixture = makeFixture([{ path: ["f.bin"], length: 4 * B * 3 }], 4 * B)
        const t = yield* open(fixture.meta, { directory })
        const blocks = blocksOf(fixture, B).filter((b) => b.piece === 1)
        assert.strictEqual(blocks.length, 4)
        const [first, second, third, last] = blocks
        if (first === undefined || second === undefined || third === undefined || last === undefined) return assert.fail("four blocks")
        assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), first.begin, first.data), { _tag: "Incomplete" })
        assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), first.begin, first.data), { _tag: "Duplicate" })
        assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), second.begin, second.data), { _tag: "Incomplete" })
        assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), third.begin, third.data), { _tag: "Incomplete" })
        assert.isUndefined(t.putBlockSync(PieceIndex(99), 0, first.data), "an invalid block is left to putBlock's typed error")
        assert.isUndefined(t.putBlockSync(PieceIndex(1), 5, first.data), "a misaligned block too")
        if (completesSync) {
          assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), last.begin, last.data), { _tag: "Verified" })
        } else {
          assert.isUndefined(t.putBlockSync(PieceIndex(1), last.begin, last.data), "the completing block needs the hash check and the write")
          assert.isFalse(t.hasPiece(PieceIndex(1)))
          assert.deepStrictEqual(yield* t.putBlock(PieceIndex(1), last.begin, last.data), { _tag: "Verified" })
        }
        assert.isTrue(t.hasPiece(PieceIndex(1)))
        assert.deepStrictEqual(yield* t.read(PieceIndex(1), 0, 4 * B), pieceData(fixture, 1))
        assert.deepStrictEqual(t.putBlockSync(PieceIndex(1), first.begin, first.data), { _tag: "Duplicate" }, "a verified piece is never overwritten")
        if (completesSync) {
          // a corrupt piece fails its hash check right there, and can be downloaded again
          const piece2 = blocksOf(fixture, B).filter((b) => b.piece === 2)
          const sent = new Uint8Array(4 * B)
          for (const [i, b] of piece2.entries()) {
            const data = i === 2 ? b.data.map((x) => x ^ 1) : b.data
            sent.set(data, b.begin)
            // the failed piece's bytes go out with the result, for the smart ban
            const expected: PutResult = i === 3 ? { _tag: "HashFailed", data: sent } : { _tag: "Incomplete" }
            assert.deepStrictEqual(t.putBlockSync(PieceIndex(2), b.begin, data), expected)
          }
          assert.isFalse(t.hasPiece(PieceIndex(2)))
          for (const [i, b] of piece2.entries()) {
            assert.deepStrictEqual(t.putBlockSync(PieceIndex(2), b.begin, b.data), { _tag: i === 3 ? "Verified" : "Incomplete" })
          }
          assert.deepStrictEqual(yield* t.read(PieceIndex(2), 0, 4 * B), pieceData(fixture, 2))
        }
        yield* t.close
        assert.isUndefined(t.putBlockSync(PieceIndex(0), 0, first.data), "nothing is stored once closed")
      }))
  })
}
