/** FileStorage on real files: resume trust, recheck after changes on disk, lazily created files, symlinks. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { PieceIndex } from "../src/ids.ts"
import { toHex } from "../src/bytes.ts"
import { existsSync } from "node:fs"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Metainfo } from "../src/metainfo/model.ts"
import { FileStorage, type OpenOptions, Storage, type TorrentStorage } from "../src/storage/index.ts"
import { type Block, blocksOf, type Fixture, makeFixture, pieceData, tempDir } from "./storage-helpers.ts"

const B = 16384

const open = (meta: Metainfo, options: OpenOptions) =>
  Storage.use((s) => s.open(meta, options)).pipe(Effect.provide(FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))))

const putAll = (t: TorrentStorage, blocks: ReadonlyArray<Block>) =>
  Effect.forEach(blocks, (b) => t.putBlock(PieceIndex(b.piece), b.begin, b.data))

const hex = (bytes: Uint8Array | null) => toHex(bytes ?? new Uint8Array(0))

/** Opens, counting recheck progress calls (0 = the resume record was trusted). */
const openCounting = (meta: Metainfo, directory: string) =>
  Effect.gen(function*() {
    let rechecked = 0
    const t = yield* open(meta, { directory, onRecheckProgress: () => Effect.sync(() => void rechecked++) })
    return { t, rechecked: () => rechecked }
  })

/** One session: open, put the given blocks, close. */
const session = (fixture: Fixture, directory: string, blocks: ReadonlyArray<Block>) =>
  Effect.scoped(Effect.flatMap(open(fixture.meta, { directory }), (t) => putAll(t, blocks)))

const single = makeFixture([{ path: ["data.bin"], length: 5 * 32768 + 1000 }], 32768, 21)

describe("FileStorage on disk", () => {
  it.live("a failed hash writes nothing; files appear only when a verified piece touches them", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const fixture = makeFixture([
        { path: ["t", "a"], length: 32768 },
        { path: ["t", "b"], length: 32768 },
        { path: ["t", "empty"], length: 0 },
        { path: ["t", ".pad", "1"], length: 100, padding: true },
        { path: ["t", "c"], length: 100 }
      ], 16384, 22)
      const t = yield* open(fixture.meta, { directory })
      const file = (name: string) => NodePath.join(directory, "t", name)
      assert.isTrue(existsSync(file("empty")), "zero-length files are created at open")
      assert.isFalse(existsSync(file("a")))
      const [b0, b1] = blocksOf(fixture, B)
      if (b0 === undefined || b1 === undefined) return assert.fail()
      assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, b1.data))._tag, "HashFailed")
      assert.isFalse(existsSync(file("a")), "nothing written for a bad piece")
      assert.strictEqual((yield* t.putBlock(PieceIndex(0), 0, b0.data))._tag, "Verified")
      assert.isTrue(existsSync(file("a")))
      assert.isFalse(existsSync(file("b")), "b is not touched by piece 0")
      yield* putAll(t, blocksOf(fixture, B))
      assert.isFalse(existsSync(NodePath.join(directory, "t", ".pad")), "padding is never created")
      assert.deepStrictEqual(new Uint8Array(yield* Effect.promise(() => Fs.readFile(file("c")))), fixture.data.subarray(65636))
    }))

  it.live("unwanted files: untouched unless a boundary piece overlaps them, then only those bytes", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const fixture = makeFixture([
        { path: ["u", "a"], length: 20000 },
        { path: ["u", "b"], length: 40000 },
        { path: ["u", "c"], length: 32768 },
        { path: ["u", "d"], length: 16384 },
        { path: ["u", "e"], length: 16384 }
      ], 16384, 23)
      const t = yield* open(fixture.meta, { directory, wanted: [true, false, false, false, true] })
      const results = yield* putAll(t, blocksOf(fixture, B))
      // a: pieces 0-1, b: 1-3, c: 3-5, d: 5-6, e: 6-7; piece 1 overlaps a and b, piece 6 overlaps d and e
      assert.deepStrictEqual(results.map((r) => r._tag), [
        "Verified", "Verified", "Unwanted", "Unwanted", "Unwanted", "Unwanted", "Verified", "Verified"
      ])
      const read = (name: string) =>
        Effect.promise(async () => new Uint8Array(await Fs.readFile(NodePath.join(directory, "u", name))))
      // piece 1 covers payload [16384, 32768): b's bytes [0, 12768) only
      assert.deepStrictEqual(yield* read("b"), fixture.data.subarray(20000, 32768))
      // piece 6 covers [98304, 114688): d's bytes [5536, 16384); the start of d stays a hole
      const d = yield* read("d")
      assert.strictEqual(d.length, 16384)
      assert.deepStrictEqual(d.subarray(0, 5536), new Uint8Array(5536))
      assert.deepStrictEqual(d.subarray(5536), fixture.data.subarray(98304, 109152))
      assert.isFalse(existsSync(NodePath.join(directory, "u", "c")))
    }))

  it.live("resume record is trusted when nothing changed: no recheck, same pieces", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* session(single, directory, blocksOf(single, B).filter((b) => b.piece < 3))
      const record = NodePath.join(directory, ".effect-torrent", `${hex(single.meta.infoHash)}.resume`)
      assert.isTrue(existsSync(record))
      assert.isFalse(existsSync(`${record}.tmp`))
      const { t, rechecked } = yield* openCounting(single.meta, directory)
      assert.strictEqual(rechecked(), 0)
      assert.deepStrictEqual(yield* t.have, Uint8Array.of(0b11100000))
      assert.deepStrictEqual(yield* t.read(PieceIndex(2), 0, 32768), pieceData(single, 2))
    }))

  it.live("a changed mtime forces a full recheck, which catches data changed in place", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* session(single, directory, blocksOf(single, B))
      const path = NodePath.join(directory, "data.bin")
      yield* Effect.promise(async () => {
        const h = await Fs.open(path, "r+")
        await h.write(Uint8Array.of(~(single.data[32768 + 5] ?? 0) & 0xff), 0, 1, 32768 + 5) // piece 1, same size
        await h.close()
        await Fs.utimes(path, new Date(2_000_000_000_000), new Date(2_000_000_000_000))
      })
      const { t, rechecked } = yield* openCounting(single.meta, directory)
      assert.strictEqual(rechecked(), single.meta.pieceCount)
      assert.deepStrictEqual(yield* t.have, Uint8Array.of(0b10111100))
    }))

  it.live("a file truncated after close: the recheck finds exactly the missing pieces", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* session(single, directory, blocksOf(single, B))
      yield* Effect.promise(() => Fs.truncate(NodePath.join(directory, "data.bin"), 3 * 32768 + 100))
      const { t, rechecked } = yield* openCounting(single.meta, directory)
      assert.strictEqual(rechecked(), single.meta.pieceCount)
      assert.deepStrictEqual(yield* t.have, Uint8Array.of(0b11100000))
      // the download continues where it stopped
      const results = yield* putAll(t, blocksOf(single, B))
      assert.strictEqual(results.filter((r) => r._tag === "Verified").length, 3)
      assert.deepStrictEqual(new Uint8Array(yield* Effect.promise(() => Fs.readFile(NodePath.join(directory, "data.bin")))), single.data)
    }))

  it.live("no resume record (crash before close) or a garbled one: recheck finds the data", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      yield* session(single, directory, blocksOf(single, B).filter((b) => b.piece !== 4))
      const record = NodePath.join(directory, ".effect-torrent", `${hex(single.meta.infoHash)}.resume`)
      yield* Effect.promise(() => Fs.writeFile(record, "{ not json"))
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const { t, rechecked } = yield* openCounting(single.meta, directory)
        return { have: yield* t.have, rechecked: rechecked() }
      }))
      assert.deepStrictEqual(first, { have: Uint8Array.of(0b11110100), rechecked: single.meta.pieceCount })
      yield* Effect.promise(() => Fs.rm(record))
      const { t, rechecked } = yield* openCounting(single.meta, directory)
      assert.strictEqual(rechecked(), single.meta.pieceCount)
      assert.deepStrictEqual(yield* t.have, Uint8Array.of(0b11110100))
    }))

  it.live("symlinks leading out of the download directory are refused", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const outside = yield* tempDir
      const fixture = makeFixture([{ path: ["t", "a.bin"], length: 1000 }], 16384, 24)
      // a symlinked directory: refused at the first write
      yield* Effect.promise(() => Fs.symlink(outside, NodePath.join(directory, "t")))
      const t = yield* open(fixture.meta, { directory })
      const err = yield* Effect.flip(t.putBlock(PieceIndex(0), 0, fixture.data))
      assert.strictEqual(err.reason, "PathEscape")
      assert.include(err.message, "outside the download directory")
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(outside)), [])
      // a symlinked file with data: refused when the open-time recheck reads it
      const victim = NodePath.join(outside, "victim.bin")
      yield* Effect.promise(() => Fs.writeFile(victim, fixture.data))
      const single1 = makeFixture([{ path: ["f.bin"], length: 1000 }], 16384, 24)
      yield* Effect.promise(() => Fs.symlink(victim, NodePath.join(directory, "f.bin")))
      assert.strictEqual((yield* Effect.flip(open(single1.meta, { directory }))).reason, "PathEscape")
    }))

  it.live("seeding reads: served from the cache, and a vanished file stops being claimed", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const cached = yield* open(single.meta, { directory })
      yield* putAll(cached, blocksOf(single, B))
      const uncached = yield* open(single.meta, { directory: NodePath.join(directory, "x"), readCacheBytes: 0 })
      yield* putAll(uncached, blocksOf(single, B))
      // the cache fills on reads (a leecher nobody asks for data keeps no extra copies)
      assert.deepStrictEqual(yield* cached.read(PieceIndex(5), 0, 1000), pieceData(single, 5))
      yield* Effect.promise(() => Fs.truncate(NodePath.join(directory, "data.bin"), 0))
      yield* Effect.promise(() => Fs.truncate(NodePath.join(directory, "x", "data.bin"), 0))
      // piece 5 is still in the 8 MiB cache
      assert.deepStrictEqual(yield* cached.read(PieceIndex(5), 0, 1000), pieceData(single, 5))
      const err = yield* Effect.flip(uncached.read(PieceIndex(5), 0, 1000))
      assert.strictEqual(err.reason, "NotVerified")
      assert.isFalse(uncached.hasPiece(PieceIndex(5)))
      assert.strictEqual(yield* uncached.verifiedCount, single.meta.pieceCount - 1)
    }))

  it.live("many fibers writing blocks concurrently, with few open files", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const files = Array.from({ length: 12 }, (_, i) => ({ path: ["m", `f${i}`], length: 9000 + 517 * i }))
      const fixture = makeFixture(files, 16384, 25)
      const t = yield* open(fixture.meta, { directory, maxOpenFiles: 2 })
      yield* Effect.forEach(blocksOf(fixture, B), (b) => t.putBlock(PieceIndex(b.piece), b.begin, b.data), { concurrency: 16 })
      assert.strictEqual(yield* t.verifiedCount, fixture.meta.pieceCount)
      yield* t.close
      for (const [i, f] of fixture.meta.files.entries()) {
        const onDisk = yield* Effect.promise(() => Fs.readFile(NodePath.join(directory, "m", `f${i}`)))
        assert.deepStrictEqual(new Uint8Array(onDisk), fixture.data.subarray(f.offset, f.offset + f.length))
      }
    }))
})
