/** Behaviour every Storage layer must have: one suite, run against FileStorage and MemoryStorage. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { PieceIndex } from "../src/ids.ts"
import { existsSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as fc from "fast-check"
import type { Metainfo } from "../src/metainfo/model.ts"
import { FileStorage, MemoryStorage, type OpenOptions, type PutResult, Storage, type TorrentStorage } from "../src/storage/index.ts"
import { type Block, blocksOf, type Fixture, makeFixture, pieceData, shuffled, tempDir } from "./storage-helpers.ts"

const B = 16384

/** FileStorage: every real file on disk is byte-identical to the payload; padding files do not exist. */
const filesOnDisk = (directory: string, fixture: Fixture) =>
  Effect.promise(async () => {
    for (const f of fixture.meta.files) {
      const path = NodePath.join(directory, ...f.path)
      if (f.padding) assert.isFalse(existsSync(path), `padding file ${path} exists`)
      else assert.deepStrictEqual(new Uint8Array(await Fs.readFile(path)), fixture.data.subarray(f.offset, f.offset + f.length))
    }
  })

const impls: ReadonlyArray<
  readonly [string, Layer.Layer<Storage>, (directory: string, fixture: Fixture) => Effect.Effect<void>]
> = [
  ["FileStorage", FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer)), filesOnDisk],
  ["MemoryStorage", MemoryStorage.layer, () => Effect.void]
]

const putAll = (t: TorrentStorage, blocks: ReadonlyArray<Block>) =>
  Effect.forEach(blocks, (b) => t.putBlock(PieceIndex(b.piece), b.begin, b.data))

const tally = (results: ReadonlyArray<PutResult>) => {
  const out: Record<string, number> = {}
  for (const r of results) out[r._tag] = (out[r._tag] ?? 0) + 1
  return out
}

const open = (meta: Metainfo, options: OpenOptions) => Storage.use((s) => s.open(meta, options))

/** Every piece reads back byte-identical, in one read and in block-sized reads. */
const assertReadsBack = (t: TorrentStorage, fixture: Fixture) =>
  Effect.gen(function*() {
    for (let piece = 0; piece < fixture.meta.pieceCount; piece++) {
      const expected = pieceData(fixture, piece)
      assert.deepStrictEqual(yield* t.read(PieceIndex(piece), 0, expected.length), expected)
      const tail = Math.max(0, expected.length - 7)
      assert.deepStrictEqual(yield* t.read(PieceIndex(piece), tail, expected.length - tail), expected.subarray(tail))
    }
  })

const errorReason = <A, R>(effect: Effect.Effect<A, { readonly reason: string }, R>) =>
  Effect.map(Effect.flip(effect), (e) => e.reason)

const singleFile = makeFixture([{ path: ["single.bin"], length: 5 * 32768 + 1000 }], 32768, 11)
const withPadding = makeFixture([
  { path: ["t", "a.bin"], length: 20000 },
  { path: ["t", ".pad", "12768"], length: 12768, padding: true },
  { path: ["t", "b.bin"], length: 40000 },
  { path: ["t", ".pad", "25536"], length: 25536, padding: true },
  { path: ["t", "c.bin"], length: 5 }
], 32768, 12)
const spanning = makeFixture([
  { path: ["s", "1"], length: 100 },
  { path: ["s", "empty"], length: 0 },
  { path: ["s", "2"], length: 3000 },
  { path: ["s", "3"], length: 7 },
  { path: ["s", "dir", "4"], length: 40000 }
], 16384, 13)

for (const [name, layer, checkDisk] of impls) {
  const run = <A, E>(effect: Effect.Effect<A, E, Storage | Scope.Scope>) =>
    effect.pipe(Effect.provide(layer, { local: true }))

  describe(`${name}: shared storage behaviour`, () => {
    it.live("single file: blocks in random order verify each piece exactly once", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        const results = yield* putAll(t, shuffled(blocksOf(singleFile, B), 1))
        const counts = tally(results)
        assert.strictEqual(counts["Verified"], singleFile.meta.pieceCount)
        assert.strictEqual(counts["Incomplete"], results.length - singleFile.meta.pieceCount)
        assert.strictEqual(yield* t.verifiedCount, singleFile.meta.pieceCount)
        assert.strictEqual(yield* t.bytesVerified, singleFile.meta.totalSize)
        // 6 pieces: 0b11111100
        assert.deepStrictEqual(yield* t.have, Uint8Array.of(0xfc))
        yield* assertReadsBack(t, singleFile)
      })))

    it.live("multi-file with padding files: padding counts for nothing, reads give zeros", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(withPadding.meta, { directory })
        yield* putAll(t, shuffled(blocksOf(withPadding, B), 2))
        assert.strictEqual(yield* t.verifiedCount, withPadding.meta.pieceCount)
        assert.strictEqual(yield* t.bytesVerified, 20000 + 40000 + 5)
        yield* assertReadsBack(t, withPadding)
        yield* checkDisk(directory, withPadding)
      })))

    it.live("a piece spanning several files (and an empty one) is assembled and read across them", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(spanning.meta, { directory })
        const results = yield* putAll(t, blocksOf(spanning, B).reverse())
        assert.strictEqual(tally(results)["Verified"], spanning.meta.pieceCount)
        yield* assertReadsBack(t, spanning)
        // a read crossing the 100-byte file boundary
        assert.deepStrictEqual(yield* t.read(PieceIndex(0), 90, 20), spanning.data.subarray(90, 110))
      })))

    it.live("bad hash: HashFailed, nothing had, the piece can be downloaded again", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        const [first, second] = blocksOf(singleFile, B)
        if (first === undefined || second === undefined) return assert.fail("fixture too small")
        const corrupt = second.data.slice()
        corrupt[5] = (corrupt[5] ?? 0) ^ 0xff
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, first.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), B, corrupt))._tag, "HashFailed")
        assert.isFalse(t.hasPiece(PieceIndex(0)))
        assert.strictEqual(yield* t.verifiedCount, 0)
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(0), 0, 10)), "NotVerified")
        // the buffer was discarded: the first block is new again
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, first.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), B, second.data))._tag, "Verified")
        assert.deepStrictEqual(yield* t.read(PieceIndex(0), 0, 32768), pieceData(singleFile, 0))
      })))

    it.live("verified data is never overwritten and duplicate blocks are ignored", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        const [first, second] = blocksOf(singleFile, B)
        if (first === undefined || second === undefined) return assert.fail("fixture too small")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, first.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, new Uint8Array(B).fill(9)))._tag, "Duplicate")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), B, second.data))._tag, "Verified")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, new Uint8Array(B).fill(7)))._tag, "Duplicate")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, new Uint8Array(2 * B).fill(7)))._tag, "Duplicate")
        assert.deepStrictEqual(yield* t.read(PieceIndex(0), 0, 2 * B), pieceData(singleFile, 0))
        assert.strictEqual(yield* t.verifiedCount, 1)
      })))

    it.live("a whole piece may be put as one block", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        const last = singleFile.meta.pieceCount - 1
        assert.strictEqual((yield* t.putBlock(PieceIndex(last), 0, pieceData(singleFile, last)))._tag, "Verified")
        assert.deepStrictEqual(yield* t.have, Uint8Array.of(0x04))
      })))

    it.live("resume: pieces verified before close are had after reopening", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const blocks = blocksOf(withPadding, B)
        const firstHalf = blocks.filter((b) => b.piece % 2 === 0)
        yield* Effect.scoped(Effect.gen(function*() {
          const t = yield* open(withPadding.meta, { directory })
          yield* putAll(t, firstHalf)
        }))
        const t = yield* open(withPadding.meta, { directory })
        assert.deepStrictEqual(yield* t.have, Uint8Array.of(0b10100000))
        assert.strictEqual(yield* t.verifiedCount, 2)
        assert.deepStrictEqual(yield* t.read(PieceIndex(2), 0, 100), pieceData(withPadding, 2).subarray(0, 100))
        const again = yield* putAll(t, blocks)
        assert.strictEqual(tally(again)["Verified"], withPadding.meta.pieceCount - 2)
        yield* assertReadsBack(t, withPadding)
      })))

    it.live("paths leaving the directory or reaching our state folder are refused", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        for (const path of [["..", "evil"], ["t", "..", "..", "evil"], ["a/b"], [".effect-torrent", "x.resume"], []]) {
          const fixture = makeFixture([{ path, length: 100 }], 16384)
          assert.strictEqual(yield* errorReason(open(fixture.meta, { directory })), "PathEscape", path.join("|"))
        }
      })))

    it.live("reads: verified pieces only, inside the piece", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory, readCacheBytes: 0 })
        yield* putAll(t, blocksOf(singleFile, B).filter((b) => b.piece === 5))
        assert.deepStrictEqual(yield* t.read(PieceIndex(5), 0, 1000), pieceData(singleFile, 5))
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(4), 0, 10)), "NotVerified")
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(5), 0, 1001)), "OutOfRange")
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(5), -1, 10)), "OutOfRange")
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(5), 0, 0)), "OutOfRange")
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(6), 0, 10)), "OutOfRange")
      })))

    it.live("invalid blocks are typed OutOfRange errors", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        const block = new Uint8Array(B)
        const cases: ReadonlyArray<readonly [number, number, Uint8Array]> = [
          [-1, 0, block],
          [6, 0, block],
          [0.5, 0, block],
          [Number.NaN, 0, block],
          [0, 1, block], // misaligned
          [0, B, new Uint8Array(B + 1)], // beyond the piece
          [0, 0, new Uint8Array(100)], // partial unit not at the piece end
          [0, 0, new Uint8Array(0)],
          [5, 0, new Uint8Array(1001)] // last piece is 1000 bytes
        ]
        for (const [piece, begin, data] of cases) {
          assert.strictEqual(yield* errorReason(t.putBlock(PieceIndex(piece), begin, data)), "OutOfRange", `${piece}/${begin}`)
        }
        assert.strictEqual(yield* t.verifiedCount, 0)
      })))

    it.live("bounded partial pieces: a new piece past the limit gets Backpressure", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory, maxPartialPieces: 2 })
        const firstBlock = (piece: number) => blocksOf(singleFile, B).filter((b) => b.piece === piece)
        const [p0a, p0b] = firstBlock(0)
        const [p1a] = firstBlock(1)
        const [p2a] = firstBlock(2)
        if (p0a === undefined || p0b === undefined || p1a === undefined || p2a === undefined) return assert.fail()
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, p0a.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(1), 0, p1a.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(2), 0, p2a.data))._tag, "Backpressure")
        assert.strictEqual((yield* t.putBlock(PieceIndex(0), B, p0b.data))._tag, "Verified")
        assert.strictEqual((yield* t.putBlock(PieceIndex(2), 0, p2a.data))._tag, "Incomplete")
        assert.strictEqual((yield* t.putBlock(PieceIndex(3), 0, p2a.data))._tag, "Backpressure")
        yield* t.discardPartial(PieceIndex(1))
        assert.strictEqual((yield* t.putBlock(PieceIndex(3), 0, firstBlock(3)[0]?.data ?? p2a.data))._tag, "Incomplete")
      })))

    it.live("unwanted pieces are refused; setWanted validates and switches", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const fixture = makeFixture([{ path: ["w", "a"], length: 32768 }, { path: ["w", "b"], length: 32768 }], 16384)
        const t = yield* open(fixture.meta, { directory, wanted: [true, false] })
        const blocks = blocksOf(fixture, B)
        const results = yield* putAll(t, blocks)
        assert.deepStrictEqual(tally(results), { Verified: 2, Unwanted: 2 })
        assert.strictEqual(yield* errorReason(t.setWanted([true])), "InvalidArgument")
        yield* t.setWanted([true, true])
        assert.strictEqual(tally(yield* putAll(t, blocks))["Verified"], 2)
        assert.strictEqual(yield* errorReason(open(fixture.meta, { directory, wanted: [true] })), "InvalidArgument")
      })))

    it.live("recheck re-hashes stored pieces and reports progress", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(spanning.meta, { directory })
        yield* putAll(t, blocksOf(spanning, B).filter((b) => b.piece !== 1))
        const seen: Array<number> = []
        const count = yield* t.recheck((p) => Effect.sync(() => void seen.push(p.checked)))
        assert.strictEqual(count, spanning.meta.pieceCount - 1)
        assert.deepStrictEqual(seen, Array.from({ length: spanning.meta.pieceCount }, (_, i) => i + 1))
        assert.isFalse(t.hasPiece(PieceIndex(1)))
        assert.isTrue(t.hasPiece(PieceIndex(0)))
      })))

    it.live("a closed storage fails with Closed; close is idempotent", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const t = yield* open(singleFile.meta, { directory })
        yield* t.close
        yield* t.close
        assert.strictEqual(yield* errorReason(t.putBlock(PieceIndex(0), 0, new Uint8Array(B))), "Closed")
        assert.strictEqual(yield* errorReason(t.read(PieceIndex(0), 0, 1)), "Closed")
      })))

    it.live("invalid metainfo and a pure v2 torrent without pieces roots are refused with typed errors", () =>
      run(Effect.gen(function*() {
        const directory = yield* tempDir
        const meta = singleFile.meta
        assert.strictEqual(yield* errorReason(open({ ...meta, pieceCount: 5 }, { directory })), "InvalidMetainfo")
        assert.strictEqual(yield* errorReason(open({ ...meta, pieces: meta.pieces.subarray(20) }, { directory })), "InvalidMetainfo")
        assert.strictEqual(yield* errorReason(open({ ...meta, totalSize: meta.totalSize + 1 }, { directory })), "InvalidMetainfo")
        assert.strictEqual(yield* errorReason(open(meta, { directory, maxPieceLength: 16384 })), "InvalidMetainfo")
        assert.strictEqual(yield* errorReason(open({ ...meta, version: "v2", pieces: new Uint8Array(0) }, { directory })), "Unsupported")
        assert.strictEqual(yield* errorReason(open(meta, { directory, blockSize: 0 })), "InvalidArgument")
      })))

    it.live("property: any order and duplication of blocks reconstructs the data", () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 0, max: 70000 }), { minLength: 1, maxLength: 4 }),
            fc.constantFrom(16384, 20000, 32768, 49152),
            fc.integer({ min: 1, max: 1 << 30 }),
            fc.array(fc.nat(), { maxLength: 20 }),
            (lengths, pieceLength, seed, duplicates) =>
              Effect.runPromise(Effect.scoped(run(Effect.gen(function*() {
                const directory = yield* tempDir
                const fixture = makeFixture(lengths.map((length, i) => ({ path: ["p", `f${i}`], length })), pieceLength, seed)
                const blocks = blocksOf(fixture, B)
                const extra = duplicates.flatMap((d) => blocks.slice(d % Math.max(1, blocks.length)).slice(0, 1))
                const t = yield* open(fixture.meta, { directory })
                const results = yield* putAll(t, shuffled([...blocks, ...extra], seed))
                assert.strictEqual(tally(results)["Verified"] ?? 0, fixture.meta.pieceCount)
                assert.strictEqual(yield* t.verifiedCount, fixture.meta.pieceCount)
                yield* assertReadsBack(t, fixture)
                yield* checkDisk(directory, fixture)
              }))))
          ),
          { numRuns: 30 }
        )
      ))
  })
}
