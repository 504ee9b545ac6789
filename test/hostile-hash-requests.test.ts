/**
 * Hostile peer against our v2 seeder (BEP 52 hash request, id 21), over a real socket:
 * - requests we cannot or must not serve (a layer above the piece layer, a range outside its
 *   layer or not aligned, a length that is not a power of two from 2 to 512, proof layers
 *   above the root, a root we do not know or one without a piece layer, 32-bit extremes, in
 *   the piece layer and in the leaf layer) are each answered with a hash reject (id 23) naming
 *   the same range, and the session goes on: a valid request after them gets hashes that
 *   prove the file's root;
 * - leaf hashes (base layer 0) right after a request for a block in their range are served
 *   (BEP 52 forbids rejecting those): the SHA-256 of each block, proving the root; a peer we
 *   choke gets a reject (a leaf answer reads back up to 8 MiB);
 * - a hash request frame of the wrong size is a protocol violation: the seeder drops that
 *   peer (nothing thrown, no defect) and serves the next connection;
 * - a peer asking in a loop is bounded (src/peer/hash-budget.ts): of a flood of piece-layer
 *   requests, or of leaf requests that each read the whole file back, no more are answered
 *   than the burst plus the refill over the time it took; the rest get hash rejects naming
 *   them, and the session goes on.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { toHex } from "../src/bytes.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { blockLeaves, fileTree, type HashRange, verifyHashes } from "../src/metainfo/index.ts"
import { HASH_REQUESTS, LEAF_BLOCKS } from "../src/peer/hash-budget.ts"
import { encodeMessage } from "../src/wire/index.ts"
import { recordEvents, startClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { hostileLeecher, request } from "./support/hostile-leecher.ts"
import { disconnectOf, type Seeder } from "./support/seeding.ts"

const BLOCK = 16 * 1024
const PIECE = 32 * 1024 // piece layer 1: the leaf layer (0) and the layer above (2) are distinct
const BIG = 40 * PIECE + 123 // 41 pieces: a piece layer of 64 hashes once padded, root at layer 7
const FILES = { "big.bin": BIG, "small.bin": 1000 }

const v2Seeder = Effect.gen(function*() {
  const root = yield* tempDir()
  yield* writePayload(join(root, "album"), FILES)
  const created = yield* createTorrent(join(root, "album"), { pieceLength: PIECE, format: "v2" }).pipe(Effect.provide(NodeFileSystem.layer), Effect.orDie)
  const meta = created.metainfo
  const client = yield* startClient(root)
  const torrent = yield* client.add(created.torrent).pipe(Effect.orDie)
  const log = yield* recordEvents(torrent)
  if (client.port === null || meta.infoHashV2 === null) return yield* Effect.die(new Error("no port, or not a v2 torrent"))
  const seeder: Seeder = { torrent, log, port: client.port }
  const file = (name: string) => meta.files.find((f) => f.path.at(-1) === name)
  const big = file("big.bin")
  const small = file("small.bin")
  if (big?.piecesRoot == null || small?.piecesRoot == null) return yield* Effect.die(new Error("files without pieces roots"))
  const layer = meta.pieceLayers.get(toHex(big.piecesRoot))
  if (layer === undefined) return yield* Effect.die(new Error("no piece layer for big.bin"))
  return {
    seeder,
    data: new Uint8Array(yield* Effect.promise(() => readFile(join(root, "album", "big.bin")))),
    infoHash: meta.infoHashV2.subarray(0, 20),
    tree: fileTree(big.piecesRoot, big.length, PIECE),
    layer,
    smallRoot: small.piecesRoot
  }
})

const hashRequest = (range: HashRange) => encodeMessage({ _tag: "HashRequest", ...range })

describe("hostile: BEP 52 hash requests against our v2 seeder", () => {
  it.live("requests we do not serve get a hash reject naming them; the session goes on and serves a valid one", () =>
    Effect.gen(function*() {
      const { infoHash, layer, seeder, smallRoot, tree } = yield* v2Seeder
      assert.deepStrictEqual([tree.pieceLayer, tree.height, tree.pieces], [1, 7, 41])
      const good: HashRange = { piecesRoot: tree.root, baseLayer: tree.pieceLayer, index: 0, length: 64, proofLayers: tree.height - tree.pieceLayer - 1 }
      const leaf: HashRange = { ...good, baseLayer: 0, index: 0, length: 2, proofLayers: tree.height - 1 }
      const bad: ReadonlyArray<readonly [string, HashRange]> = [
        ["leaves we would serve, but we choke this peer (it never said interested)", leaf],
        ["leaves past the end of the tree", { ...leaf, index: 2 ** tree.height }],
        ["leaves not aligned on their length", { ...leaf, index: 1 }],
        ["one leaf", { ...leaf, length: 1 }],
        ["leaf proofs above the root", { ...leaf, proofLayers: tree.height }],
        ["a layer above the piece layer", { ...good, baseLayer: 2, length: 2, proofLayers: 0 }],
        ["past the end of the layer", { ...good, index: 64, length: 64 }],
        ["not aligned on its length", { ...good, index: 2, length: 4 }],
        ["length 1 (BEP 52: at least 2)", { ...good, index: 0, length: 1 }],
        ["length 3, not a power of two", { ...good, length: 3 }],
        ["length 1024, more than 512", { ...good, length: 1024 }],
        ["proof layers above the root", { ...good, proofLayers: tree.height - tree.pieceLayer }],
        ["proof layers 0xffffffff", { ...good, proofLayers: 0xffff_ffff }],
        ["index 0xffffffff", { ...good, index: 0xffff_ffff, length: 2 }],
        ["base layer 0xffffffff", { ...good, baseLayer: 0xffff_ffff }],
        ["a root we do not know", { ...good, piecesRoot: new Uint8Array(32).fill(7) }],
        ["a file of one piece (its root is all there is)", { ...good, piecesRoot: smallRoot, baseLayer: 1, length: 2, proofLayers: 0 }]
      ]
      const h = yield* hostileLeecher({ port: seeder.port, infoHash, fast: true, v2: true, interested: false })
      yield* h.send([...bad.map(([, range]) => hashRequest(range)), hashRequest(good)])
      yield* h.waitUntil("an answer to every hash request", () => h.hashReplies().length === bad.length + 1)
      const replies = h.hashReplies()
      bad.forEach(([name, range], i) => {
        const reply = replies[i]
        assert.strictEqual(reply?._tag, "HashReject", name)
        assert.deepStrictEqual(reply?.range, range, `${name}: the reject names the request`)
      })
      const answer = replies[bad.length]
      assert.strictEqual(answer?._tag, "Hashes")
      assert.deepStrictEqual(answer?.range, good)
      const verified = verifyHashes(tree, good, answer?.hashes ?? new Uint8Array())
      assert.deepStrictEqual(verified, layer, "the hashes prove the file's root and are its piece layer")
      assert.isFalse(h.closed(), "rejects are answers, not a reason to drop the peer")
      assert.deepStrictEqual(h.decodeErrors(), [])
    }))

  it.live("leaf hashes right after a request for a block in their range are served, proving the root", () =>
    Effect.gen(function*() {
      const { data, infoHash, seeder, tree } = yield* v2Seeder
      const h = yield* hostileLeecher({ port: seeder.port, infoHash, fast: true, v2: true, keepBlocks: true })
      yield* h.waitUntil("the seeder to unchoke us", () => !h.choked())
      // block 1 of piece 3 (leaf 7), then the leaves of piece 3, then 64 leaves (16 pieces) from 64
      const leaves: ReadonlyArray<HashRange> = [
        { piecesRoot: tree.root, baseLayer: 0, index: 6, length: 2, proofLayers: tree.height - 1 },
        { piecesRoot: tree.root, baseLayer: 0, index: 64, length: 64, proofLayers: tree.height - 1 }
      ]
      yield* h.send([request(3, BLOCK, BLOCK), ...leaves.map(hashRequest)])
      yield* h.waitUntil("the block and both answers", () => h.pieces().length === 1 && h.hashReplies().length === 2)
      const all = blockLeaves(data)
      leaves.forEach((range, i) => {
        const reply = h.hashReplies()[i]
        assert.strictEqual(reply?._tag, "Hashes")
        const hashes = reply?.hashes ?? new Uint8Array()
        assert.isNotString(verifyHashes(tree, range, hashes), "the leaves and their uncles prove the root")
        const expected = new Uint8Array(32 * range.length) // leaves past the file's end are zero
        expected.set(all.subarray(32 * range.index, Math.min(all.length, 32 * (range.index + range.length))))
        assert.deepStrictEqual(hashes.subarray(0, 32 * range.length), expected)
      })
      assert.deepStrictEqual(h.pieces()[0]?.data, data.subarray(3 * PIECE + BLOCK, 3 * PIECE + 2 * BLOCK))
    }))

  it.live("a hash request frame of the wrong size is a protocol violation: that peer is dropped, the next one served", () =>
    Effect.gen(function*() {
      const { infoHash, seeder, tree } = yield* v2Seeder
      const good: HashRange = { piecesRoot: tree.root, baseLayer: tree.pieceLayer, index: 0, length: 64, proofLayers: 0 }
      const h = yield* hostileLeecher({ port: seeder.port, infoHash, fast: true, v2: true, interested: false })
      const frame = hashRequest(good)
      // the length prefix says 45 bytes (id + 44): one field short of BEP 52's 49
      const short = frame.slice(0, 49)
      new DataView(short.buffer).setUint32(0, 45)
      yield* h.send(short)
      const ended = yield* disconnectOf(seeder, h.key)
      assert.strictEqual(ended.kind, "Protocol")
      assert.match(ended.reason, /21|hash/i)
      yield* h.waitUntil("the seeder to close the socket", () => h.closedByClient(), 3)
      assert.deepStrictEqual(h.hashReplies(), [])
      const next = yield* hostileLeecher({ port: seeder.port, infoHash, fast: true, v2: true, interested: false })
      yield* next.send(hashRequest(good))
      yield* next.waitUntil("hashes for the next peer", () => next.hashReplies().length === 1)
      assert.strictEqual(next.hashReplies()[0]?._tag, "Hashes")
    }))

  it.live("a flood of hash requests is answered up to the peer's budget, the rest rejected by name; the session goes on", () =>
    Effect.gen(function*() {
      const { infoHash, seeder, tree } = yield* v2Seeder
      const perToken = (b: { readonly limit: number; readonly window: Duration.Input }) => Duration.toMillis(Duration.fromInputUnsafe(b.window)) / b.limit
      const h = yield* hostileLeecher({ port: seeder.port, infoHash, fast: true, v2: true })
      yield* h.waitUntil("the seeder to unchoke us", () => !h.choked())
      // each of these reads all 41 pieces (82 blocks) back: the leaf bucket (1024) holds 12
      const leaves: HashRange = { piecesRoot: tree.root, baseLayer: 0, index: 0, length: 128, proofLayers: tree.height - 1 }
      const leafFlood = 20
      const started = yield* Clock.currentTimeMillis
      yield* h.send(Array.from({ length: leafFlood }, () => hashRequest(leaves)))
      yield* h.waitUntil("an answer to every leaf request", () => h.hashReplies().length === leafFlood, 30)
      const leafMillis = (yield* Clock.currentTimeMillis) - started
      const leafAnswered = h.hashReplies().filter((r) => r._tag === "Hashes").length
      assert.isAtLeast(leafAnswered, Math.floor(LEAF_BLOCKS.limit / 82), "the burst is served")
      assert.isAtMost(leafAnswered, Math.floor((LEAF_BLOCKS.limit + leafMillis / perToken(LEAF_BLOCKS)) / 82))
      const rejected = h.hashReplies().filter((r) => r._tag === "HashReject")
      assert.isAbove(rejected.length, 0)
      for (const r of rejected) assert.deepStrictEqual(r.range, leaves, "the reject names the request")
      // then piece-layer requests (cheap each, from memory), far past the request bucket
      const layer: HashRange = { piecesRoot: tree.root, baseLayer: tree.pieceLayer, index: 0, length: 2, proofLayers: 0 }
      const flood = 600
      yield* h.send(Array.from({ length: flood }, () => hashRequest(layer)))
      yield* h.waitUntil("an answer to every piece-layer request", () => h.hashReplies().length === leafFlood + flood, 30)
      const millis = (yield* Clock.currentTimeMillis) - started
      const answered = h.hashReplies().filter((r) => r._tag === "Hashes").length
      assert.isAtMost(answered, HASH_REQUESTS.limit + Math.floor(millis / perToken(HASH_REQUESTS)), "requests of both kinds within the bucket")
      assert.isAbove(answered - leafAnswered, 0)
      assert.isBelow(answered, leafFlood + flood, "some piece-layer requests were rejected")
      assert.isFalse(h.closed(), "rejected, not dropped: fewer than the session's violation limit")
    }))
})
