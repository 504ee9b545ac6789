/**
 * BEP 52 leaf-layer hash requests, pure (src/metainfo/leaf-hashes.ts, hash-server.ts): from a
 * real file's bytes, every answer's leaves are the SHA-256 of its 16 KiB blocks, and with
 * proofs to the top the answer proves the file's pieces root; the pieces to read back are the
 * ones under the request; data that does not match the piece layer is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fc from "fast-check"
import {
  answerLeafRequest,
  BLOCK_SIZE,
  blockLeaves,
  fileMerkleRoot,
  filePieceLayer,
  fileTree,
  type HashRange,
  leafRequestPieces,
  treeLayers,
  uncleCount,
  verifyHashes
} from "../src/metainfo/index.ts"

const file = (length: number, pieceLength: number) => {
  const data = randomBytes(length)
  const tree = fileTree(fileMerkleRoot(data, pieceLength), length, pieceLength)
  const layers = treeLayers(tree, filePieceLayer(data, pieceLength), pieceLength)
  return { data: new Uint8Array(data), tree, layers }
}

const leavesOf = (data: Uint8Array, pieceLength: number, first: number, count: number) =>
  blockLeaves(data.subarray(first * pieceLength, Math.min(data.length, (first + count) * pieceLength)))

describe("leaf-layer hash requests (BEP 52, base layer 0)", () => {
  it("answers prove the pieces root for every aligned range, shorter or longer than a piece", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }), // piece = 2..8 blocks
        fc.integer({ min: 2, max: 40 }), // pieces
        fc.integer({ min: 1, max: 9 }), // log2 of the request's length
        fc.nat(),
        (pieceLog, pieces, lengthLog, at) => {
          const pieceLength = BLOCK_SIZE * 2 ** pieceLog
          const { data, layers, tree } = file((pieces - 1) * pieceLength + 1 + (at % pieceLength), pieceLength)
          const length = 2 ** Math.min(lengthLog, tree.height)
          const index = (at % (2 ** tree.height / length)) * length
          const range: HashRange = { piecesRoot: tree.root, baseLayer: 0, index, length, proofLayers: tree.height - 1 }
          const needed = leafRequestPieces(tree, range)
          if (typeof needed === "string") return assert.fail(needed)
          const answer = answerLeafRequest(tree, layers, range, leavesOf(data, pieceLength, needed.first, needed.count))
          if (typeof answer === "string") return assert.fail(answer)
          assert.strictEqual(answer.length, 32 * (length + uncleCount(range)))
          assert.isNotString(verifyHashes(tree, range, answer), "the answer proves the root")
          // the leaves are the blocks' own hashes (zero past the file's end)
          const all = blockLeaves(data)
          const expected = new Uint8Array(32 * length)
          expected.set(all.subarray(Math.min(all.length, 32 * index), Math.min(all.length, 32 * (index + length))))
          assert.deepStrictEqual(answer.subarray(0, 32 * length), expected)
          // fewer proof layers: the same answer, cut short
          const short = answerLeafRequest(tree, layers, { ...range, proofLayers: 0 }, leavesOf(data, pieceLength, needed.first, needed.count))
          assert.deepStrictEqual(short, answer.subarray(0, 32 * (length + uncleCount({ length, proofLayers: 0 }))))
        }
      ),
      { numRuns: 150 }
    )
  })

  it("names the pieces under the request, and rejects what it cannot serve before reading anything", () => {
    const pieceLength = 4 * BLOCK_SIZE
    const { data, layers, tree } = file(10 * pieceLength + 100, pieceLength) // 11 pieces, 41 blocks, 64 leaves
    const good: HashRange = { piecesRoot: tree.root, baseLayer: 0, index: 8, length: 2, proofLayers: tree.height - 1 }
    assert.deepStrictEqual(leafRequestPieces(tree, good), { first: 2, count: 1 })
    assert.deepStrictEqual(leafRequestPieces(tree, { ...good, index: 16, length: 16 }), { first: 4, count: 4 })
    assert.deepStrictEqual(leafRequestPieces(tree, { ...good, index: 32, length: 32 }), { first: 8, count: 3 }, "pieces past the file are padding")
    assert.deepStrictEqual(leafRequestPieces(tree, { ...good, index: 48, length: 4 }), { first: 12, count: 0 }, "all padding: nothing to read")
    const reject = (change: Partial<HashRange>, why: RegExp) => assert.match(String(leafRequestPieces(tree, { ...good, ...change })), why)
    reject({ baseLayer: 2 }, /not the leaf layer/)
    reject({ length: 1 }, /from 2 to 512/)
    reject({ length: 6 }, /from 2 to 512/)
    reject({ index: 3 }, /aligned/)
    reject({ index: 64 }, /aligned range of the 64/)
    reject({ index: 0xffff_fffe }, /aligned/)
    reject({ proofLayers: tree.height }, /above the root/)
    // data on disk that is not what the piece layer says: refused, never a wrong proof
    const changed = leavesOf(data, pieceLength, 2, 1)
    changed[5] = (changed[5] ?? 0) ^ 1
    assert.match(String(answerLeafRequest(tree, layers, good, changed)), /does not give the piece layer/)
  })
})
