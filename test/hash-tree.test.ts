/**
 * BEP 52 hash requests, pure (src/metainfo/hash-tree.ts): the requests that fetch a piece
 * layer, our answers from a piece layer, and the check of an answer against the pieces root.
 * Trees come from real file bytes (merkle.ts) or from random piece layers whose root is
 * computed the way the parser checks it (pieceLayerRoot).
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash } from "node:crypto"
import * as fc from "fast-check"
import { toHex } from "../src/bytes.ts"
import {
  answerHashRequest,
  BLOCK_SIZE,
  fileMerkleRoot,
  filePieceLayer,
  fileTree,
  type HashRange,
  MAX_HASHES_PER_REQUEST,
  pieceLayerRequests,
  pieceLayerRoot,
  treeLayers,
  uncleCount,
  verifyHashes
} from "../src/metainfo/index.ts"

/** A piece layer of `pieces` distinct hashes, and the geometry of a file that has it. */
const syntheticFile = (pieces: number, pieceLength: number, tail: number, seed: number) => {
  const layer = new Uint8Array(32 * pieces)
  for (let i = 0; i < pieces; i++) layer.set(createHash("sha256").update(`${seed}/${i}`).digest(), 32 * i)
  const length = (pieces - 1) * pieceLength + tail
  const tree = fileTree(pieceLayerRoot(layer, pieceLength), length, pieceLength)
  return { layer, tree, length }
}

/** Fetches the whole layer through our own answers, as a leecher would from our seed. */
const fetchLayer = (tree: ReturnType<typeof fileTree>, layer: Uint8Array, pieceLength: number) => {
  const layers = treeLayers(tree, layer, pieceLength)
  const parts: Array<Uint8Array> = []
  for (const request of pieceLayerRequests(tree)) {
    const answer = answerHashRequest(tree, layers, request)
    if (typeof answer === "string") return assert.fail(`rejected ${JSON.stringify({ ...request, piecesRoot: "…" })}: ${answer}`)
    const verified = verifyHashes(tree, request, answer)
    if (typeof verified === "string") return assert.fail(`our own answer failed: ${verified}`)
    parts.push(verified)
  }
  return Buffer.concat(parts)
}

const arbFile = fc.record({
  pieces: fc.integer({ min: 2, max: 1600 }),
  pieceLength: fc.constantFrom(16384, 32768, 65536, 262144),
  tailFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.nat()
}).map(({ pieces, pieceLength, tailFraction, seed }) => {
  const tail = 1 + Math.floor(tailFraction * (pieceLength - 1))
  return { ...syntheticFile(pieces, pieceLength, tail, seed), pieceLength }
})

describe("hash tree: piece layers over hash requests (BEP 52)", () => {
  it("a real file's piece layer comes back whole and verified", () => {
    const pieceLength = 32768
    const data = new Uint8Array(5 * pieceLength + 1234).map((_, i) => (i * 31) % 251)
    const layer = filePieceLayer(data, pieceLength)
    const tree = fileTree(fileMerkleRoot(data, pieceLength), data.length, pieceLength)
    assert.deepStrictEqual({ pieces: tree.pieces, pieceLayer: tree.pieceLayer, height: tree.height }, { pieces: 6, pieceLayer: 1, height: 4 })
    const requests = pieceLayerRequests(tree)
    // One request: 8 hashes (6 and two padding), which fill the tree up to the root.
    assert.deepStrictEqual(requests.map((r) => [r.baseLayer, r.index, r.length, r.proofLayers]), [[1, 0, 8, 2]])
    assert.strictEqual(uncleCount(requests[0] ?? { length: 1, proofLayers: 0 }), 0)
    assert.strictEqual(toHex(fetchLayer(tree, layer, pieceLength)), toHex(layer))
  })

  it("property: every layer, of any size, is fetched in buckets of 512 with uncles, and verifies", () => {
    fc.assert(
      fc.property(arbFile, ({ layer, tree, pieceLength }) => {
        const requests = pieceLayerRequests(tree)
        assert.strictEqual(requests.length, Math.ceil(tree.pieces / MAX_HASHES_PER_REQUEST))
        for (const r of requests) {
          assert.isTrue(r.length >= 2 && r.length <= MAX_HASHES_PER_REQUEST && (r.length & (r.length - 1)) === 0)
          assert.strictEqual(r.index % r.length, 0)
        }
        assert.strictEqual(toHex(fetchLayer(tree, layer, pieceLength)), toHex(layer))
      }),
      { numRuns: 60 }
    )
  })

  it("property: any changed byte, a missing or an extra hash, or another file's root fails the check", () => {
    fc.assert(
      fc.property(arbFile, fc.nat(), fc.integer({ min: 0, max: 255 }), ({ layer, tree, pieceLength }, at, flip) => {
        const layers = treeLayers(tree, layer, pieceLength)
        const requests = pieceLayerRequests(tree)
        const request = requests[at % requests.length]
        if (request === undefined) return
        const answer = answerHashRequest(tree, layers, request)
        if (typeof answer === "string") return assert.fail(answer)
        const bad = answer.slice()
        const i = at % bad.length
        bad[i] = (bad[i] ?? 0) ^ (1 + (flip % 255))
        assert.isString(verifyHashes(tree, request, bad))
        assert.match(String(verifyHashes(tree, request, answer.subarray(32))), /hashes for a request of/)
        assert.match(String(verifyHashes(tree, request, Buffer.concat([answer, new Uint8Array(32)]))), /hashes for a request of/)
        const other = { ...tree, root: new Uint8Array(32).fill(1) }
        assert.match(String(verifyHashes(other, request, answer)), /do not prove/)
      }),
      { numRuns: 100 }
    )
  })

  it("verifyHashes leaves the answer alone, also when it is a Buffer (a frame off the socket)", () => {
    const { layer, tree } = syntheticFile(20, 16384, 100, 7)
    const layers = treeLayers(tree, layer, 16384)
    for (const request of pieceLayerRequests(tree)) {
      const answer = answerHashRequest(tree, layers, request)
      if (typeof answer === "string") return assert.fail(answer)
      const frame = Buffer.from(answer)
      const before = toHex(frame)
      assert.notTypeOf(verifyHashes(tree, request, frame), "string")
      assert.strictEqual(toHex(frame), before)
    }
  })

  it("uncles: a bucket of a long file carries the proof from its subtree to the root", () => {
    const { layer, tree } = syntheticFile(1300, BLOCK_SIZE, 100, 7)
    assert.deepStrictEqual({ pieceLayer: tree.pieceLayer, height: tree.height }, { pieceLayer: 0, height: 11 })
    const requests = pieceLayerRequests(tree)
    assert.deepStrictEqual(requests.map((r) => [r.index, r.length, r.proofLayers, uncleCount(r)]), [
      [0, 512, 10, 2],
      [512, 512, 10, 2],
      [1024, 512, 10, 2]
    ])
    const layers = treeLayers(tree, layer, BLOCK_SIZE)
    const second = requests[1]
    if (second === undefined) return assert.fail("three requests")
    const answer = answerHashRequest(tree, layers, second)
    if (typeof answer === "string") return assert.fail(answer)
    assert.strictEqual(answer.length, 32 * 514)
    // A last bucket of 276 real hashes: the rest of its 512 are padding, which the check drops.
    const third = requests[2]
    if (third === undefined) return assert.fail("three requests")
    const last = answerHashRequest(tree, layers, third)
    if (typeof last === "string") return assert.fail(last)
    const verified = verifyHashes(tree, third, last)
    assert.strictEqual(typeof verified === "string" ? verified : verified.length, 32 * 276)
  })

  it("requests we do not serve are rejected before anything is allocated", () => {
    const { layer, tree } = syntheticFile(40, 65536, 10, 3)
    const layers = treeLayers(tree, layer, 65536)
    const good: HashRange = { piecesRoot: tree.root, baseLayer: tree.pieceLayer, index: 0, length: 64, proofLayers: tree.height - tree.pieceLayer - 1 }
    assert.isNotString(answerHashRequest(tree, layers, good))
    const reject = (change: Partial<HashRange>, why: RegExp) => assert.match(String(answerHashRequest(tree, layers, { ...good, ...change })), why)
    reject({ baseLayer: 0 }, /only the piece layer/)
    reject({ length: 3 }, /not a power of two/)
    reject({ length: 2 ** 31 }, /not a power of two from 2 to 512/)
    reject({ length: 1 }, /not a power of two from 2 to 512/)
    reject({ length: 0 }, /not a power of two/)
    reject({ index: 2, length: 4 }, /not an aligned range/)
    reject({ index: 64, length: 64 }, /not an aligned range of the 64/)
    reject({ index: 0xffff_ffc0, length: 64 }, /not an aligned range/)
    reject({ proofLayers: tree.height - tree.pieceLayer }, /reach above the root/)
    reject({ proofLayers: 0xffff_ffff }, /reach above the root/)
  })
})
