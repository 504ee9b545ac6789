/**
 * BEP 52 in storage: pure v2 and hybrid torrents laid out with files on piece boundaries,
 * each piece checked against its merkle root (SHA-256 per 16 KiB block), a hybrid's against
 * both hash formats, on FileStorage and MemoryStorage.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fc from "fast-check"
import { PieceIndex } from "../src/ids.ts"
import { blockLeaves, filePieceLayer, leavesRoot, parseMetainfo, pieceRoot } from "../src/metainfo/index.ts"
import type { Metainfo } from "../src/metainfo/model.ts"
import { FileStorage, MemoryStorage, Storage, type TorrentStorage } from "../src/storage/index.ts"
import { content, torrent, v2Torrent } from "./metainfo-helpers.ts"
import { tempDir } from "./storage-helpers.ts"

const PL = 32768
const files = [
  { path: ["a.bin"], data: content(3 * PL + 5000, 21) },
  { path: ["b.bin"], data: content(PL + 1, 22) },
  { path: ["c.bin"], data: content(700, 23) }
]

/** The padded payload: each file from its piece boundary, zeros after it. */
const payloadOf = (meta: Metainfo, data: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(meta.totalSize)
  let i = 0
  for (const f of meta.files) if (!f.padding) out.set(data[i++] ?? new Uint8Array(), f.offset)
  return out
}

const impls: ReadonlyArray<readonly [string, Layer.Layer<Storage>]> = [
  ["FileStorage", FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))],
  ["MemoryStorage", MemoryStorage.layer]
]

const putPiece = (t: TorrentStorage, payload: Uint8Array, meta: Metainfo, piece: number, corrupt = -1) =>
  Effect.gen(function*() {
    const results: Array<string> = []
    for (let begin = 0; begin < meta.pieceLength; begin += 16384) {
      const block = payload.slice(piece * meta.pieceLength + begin, piece * meta.pieceLength + begin + 16384)
      if (begin === corrupt) block[7] = (block[7] ?? 0) ^ 0xff
      results.push((yield* t.putBlock(PieceIndex(piece), begin, block))._tag)
    }
    return results[results.length - 1]
  })

describe("merkle: a piece's root from its blocks", () => {
  it("matches the piece layer for any file size, and one changed byte changes it", () =>
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 * PL }), fc.integer({ min: 1, max: 1 << 30 }), (length, seed) => {
      const data = content(length, seed)
      const layer = filePieceLayer(data, PL)
      for (let p = 0; p < layer.length / 32; p++) {
        const root = pieceRoot(data.subarray(p * PL, (p + 1) * PL), PL / 16384)
        assert.deepStrictEqual(root, layer.subarray(32 * p, 32 * p + 32))
      }
      const at = (seed % Math.min(length, PL))
      const changed = data.slice()
      changed[at] = (changed[at] ?? 0) ^ 1
      assert.notDeepEqual(pieceRoot(changed.subarray(0, PL), PL / 16384), layer.subarray(0, 32))
      // the leaves name the block that differs, exactly
      const a = blockLeaves(data.subarray(0, PL))
      const b = blockLeaves(changed.subarray(0, PL))
      const differ = [...Array(a.length / 32).keys()].filter((i) => a.subarray(32 * i, 32 * i + 32).some((x, j) => x !== b[32 * i + j]))
      assert.deepStrictEqual(differ, [Math.floor(at / 16384)])
      assert.deepStrictEqual(leavesRoot(a, PL / 16384), pieceRoot(data.subarray(0, PL), PL / 16384))
    })))
})

describe("storage: BEP 52", () => {
  for (const [name, layer] of impls) {
    describe(name, () => {
      it.live("pure v2: every piece verifies by its merkle root, a corrupt block fails its piece, data reads back", () =>
        Effect.gen(function*() {
          const { info, layers } = v2Torrent(files, PL, false)
          const meta = yield* parseMetainfo(torrent(info, { "piece layers": layers }))
          assert.strictEqual(meta.version, "v2")
          // 4 + 2 + 1 pieces: each file starts its own, the last is padded like the others
          assert.strictEqual(meta.pieceCount, 7)
          assert.strictEqual(meta.totalSize, 7 * PL)
          const payload = payloadOf(meta, files.map((f) => f.data))
          const directory = yield* tempDir
          const t = yield* Storage.use((s) => s.open(meta, { directory }))
          assert.strictEqual(yield* putPiece(t, payload, meta, 3, 0), "HashFailed")
          assert.strictEqual(yield* putPiece(t, payload, meta, 1, 16384), "HashFailed")
          for (let p = 0; p < meta.pieceCount; p++) assert.strictEqual(yield* putPiece(t, payload, meta, p), "Verified", `piece ${p}`)
          assert.strictEqual(yield* t.verifiedCount, 7)
          assert.strictEqual(yield* t.bytesVerified, 3 * PL + 5000 + PL + 1 + 700)
          assert.deepStrictEqual(yield* t.read(PieceIndex(4), 0, PL), payload.subarray(4 * PL, 5 * PL))
          if (name === "FileStorage") {
            yield* t.close
            const b = yield* Effect.promise(() => Fs.readFile(NodePath.join(directory, "root", "b.bin")))
            assert.deepStrictEqual(new Uint8Array(b), files[1]?.data)
            // a fresh open without resume data rechecks the files by their merkle roots
            yield* Effect.promise(() => Fs.rm(NodePath.join(directory, ".effect-torrent"), { recursive: true, force: true }))
            const again = yield* Storage.use((s) => s.open(meta, { directory }))
            assert.strictEqual(yield* again.verifiedCount, 7)
          }
        }).pipe(Effect.scoped, Effect.provide(layer, { local: true })))

      it.live("a hybrid whose v1 hashes describe other data than its v2 roots is an error, not a silent pass", () =>
        Effect.gen(function*() {
          const { info, layers } = v2Torrent(files, PL, true)
          const good = yield* parseMetainfo(torrent(info, { "piece layers": layers }))
          assert.strictEqual(good.version, "hybrid")
          const payload = payloadOf(good, files.map((f) => f.data))
          // the same hybrid, but its v1 hash of piece 5 (b.bin's tail) taken over other bytes
          const other = v2Torrent([files[0] ?? files[2] ?? { path: [], data: new Uint8Array() }, { path: ["b.bin"], data: content(PL + 1, 99) }, files[2] ?? { path: [], data: new Uint8Array() }], PL, true)
          const pieces = new Uint8Array(info["pieces"] as Uint8Array)
          pieces.set((other.info["pieces"] as Uint8Array).subarray(20 * 5, 20 * 6), 20 * 5)
          const bad = yield* parseMetainfo(torrent({ ...info, pieces }, { "piece layers": layers }))
          const directory = yield* tempDir
          const t = yield* Storage.use((s) => s.open(bad, { directory }))
          assert.strictEqual(yield* putPiece(t, payload, bad, 0), "Verified")
          const error = yield* Effect.flip(putPiece(t, payload, bad, 5))
          assert.strictEqual(error.reason, "InvalidMetainfo")
          assert.include(error.message, "piece 5 matches its v2 merkle root but not its SHA-1")
        }).pipe(Effect.scoped, Effect.provide(layer, { local: true })))
    })
  }
})
