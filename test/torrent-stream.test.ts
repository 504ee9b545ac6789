/**
 * Reading files while they download (`torrent.file(i).stream`), file priorities at run
 * time, removing with the data, and the Promise facade's Node Readable: real clients on
 * 127.0.0.1, real files.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { createClient } from "../src/client/index.ts"
import { startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { eventually } from "./support/waiting.ts"
import { startSeeder } from "./support/seeding.ts"
import { makeTorrent, type TorrentFixture } from "./support/torrent-fixture.ts"

const KiB = 1024
const files = { "a.bin": 300 * KiB, "movie.mkv": 3 * 1024 * KiB + 5, "c.txt": 70 * KiB }

const fileBytes = (fixture: TorrentFixture, index: number, start: number, end: number) => {
  const f = fixture.metainfo.files[index]
  if (f === undefined) throw new Error(`no file ${index}`)
  return fixture.data.subarray(f.offset + start, f.offset + end + 1)
}

/** createTorrent sorts files by path: find an index by name. */
const indexOf = (fixture: TorrentFixture, name: string) => fixture.metainfo.files.findIndex((f) => f.path.at(-1) === name)

const concat = (chunks: Iterable<Uint8Array>) => Buffer.concat([...chunks].map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)))

describe("file streaming", () => {
  it.live("streams a range of a file from a leecher that selected nothing, selecting it", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-stream-seed-")
      const fixture = yield* makeTorrent(root, "pack", files, 64 * KiB)
      const seeder = yield* startSeeder(fixture)
      const client = yield* startClient(yield* tempDir("et-stream-leech-"))
      const torrent = yield* client.add(fixture.torrent, { select: [], peers: [{ host: "127.0.0.1", port: seeder.port }] })
      assert.deepStrictEqual(yield* torrent.priorities, [0, 0, 0])
      const m = indexOf(fixture, "movie.mkv")
      const movie = torrent.file(m)
      assert.strictEqual(movie.path, "pack/movie.mkv")
      const start = 1_000_000
      const end = 2_500_000
      const got = concat(yield* Stream.runCollect(movie.stream({ start, end })))
      assert.strictEqual(got.length, end - start + 1)
      assert.isTrue(got.equals(fileBytes(fixture, m, start, end)))
      assert.deepStrictEqual((yield* torrent.priorities).map((p, i) => i === m ? p : 0), yield* torrent.priorities)
      assert.strictEqual((yield* torrent.priorities)[m], 1)
      // the whole of a file, and the last byte alone
      const c = indexOf(fixture, "c.txt")
      const whole = concat(yield* Stream.runCollect(torrent.file(c).stream()))
      assert.isTrue(whole.equals(fileBytes(fixture, c, 0, files["c.txt"] - 1)))
      const lastByte = concat(yield* Stream.runCollect(movie.stream({ start: files["movie.mkv"] - 1 })))
      assert.deepStrictEqual([...lastByte], [...fileBytes(fixture, m, files["movie.mkv"] - 1, files["movie.mkv"] - 1)])
    }))

  it.live("a range outside the file or an unknown file fails with a TorrentError", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-stream-bad-")
      const fixture = yield* makeTorrent(root, "pack", files, 64 * KiB)
      const client = yield* startClient(root)
      const torrent = yield* client.add(fixture.torrent)
      const past = yield* Effect.flip(Stream.runCollect(torrent.file(indexOf(fixture, "a.bin")).stream({ start: files["a.bin"] })))
      assert.strictEqual(past._tag, "TorrentError")
      assert.include(past.message, "outside")
      const none = yield* Effect.flip(Stream.runCollect(torrent.file(7).stream()))
      assert.include(none.message, "no file 7")
    }))

  it.live("priorities change at run time: a complete torrent downloads again when a file is added", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-prio-seed-")
      const fixture = yield* makeTorrent(root, "pack", files, 64 * KiB)
      const seeder = yield* startSeeder(fixture)
      const directory = yield* tempDir("et-prio-leech-")
      const client = yield* startClient(directory)
      const a = indexOf(fixture, "a.bin")
      const torrent = yield* client.add(fixture.torrent, { select: [a], peers: [{ host: "127.0.0.1", port: seeder.port }] })
      yield* torrent.whenComplete.pipe(Effect.timeout("20 seconds"))
      const progress = yield* torrent.fileProgress
      assert.strictEqual(progress[a], files["a.bin"])
      assert.isBelow(progress[indexOf(fixture, "movie.mkv")] ?? 0, files["movie.mkv"])
      yield* torrent.setPriorities([1, 2, 1])
      // status goes back to downloading, then to seeding once everything is there
      yield* eventually("every file complete", torrent.fileProgress, (progress) =>
        progress.every((bytes, i) => bytes === fixture.metainfo.files[i]?.length), 20)
      const bits = yield* torrent.bitfield
      assert.strictEqual(bits.length, Math.ceil(fixture.metainfo.pieceCount / 8))
      assert.isTrue([...bits].every((b, i) => i < bits.length - 1 ? b === 0xff : b !== 0))
      const bad = yield* Effect.flip(torrent.setPriorities([1]))
      assert.include(bad.message, "expected 3 file priorities")
      // remove with the data: the files and the folder they were in go
      yield* client.remove(torrent.infoHash, { deleteData: true })
      assert.isFalse(existsSync(join(directory, "pack")))
      assert.isTrue(existsSync(directory))
    }))

  it.live("the Promise facade reads a file as a Node Readable", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-readable-seed-")
      const fixture = yield* makeTorrent(root, "pack", files, 64 * KiB)
      const seeder = yield* startSeeder(fixture)
      const directory = yield* tempDir("et-readable-leech-")
      const got = yield* Effect.promise(async () => {
        const client = await createClient({ host: "127.0.0.1", port: 0, downloadDirectory: directory, hashThreads: 0 })
        try {
          const torrent = await client.add(fixture.torrent, { peers: [{ host: "127.0.0.1", port: seeder.port }] })
          const chunks: Array<Buffer> = []
          for await (const chunk of torrent.file(indexOf(fixture, "movie.mkv")).createReadStream({ start: 5, end: 200_004 })) chunks.push(chunk as Buffer)
          return Buffer.concat(chunks)
        } finally {
          await client.close()
        }
      })
      assert.isTrue(got.equals(fileBytes(fixture, indexOf(fixture, "movie.mkv"), 5, 200_004)))
    }))
})
