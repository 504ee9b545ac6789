/**
 * Hostile peer against our seeder: requests outside the torrent or the piece, or of a
 * size BEP 3 forbids (more than 16 KiB, or nothing). Each is a protocol violation: the
 * seeder ends the session with kind "Protocol" and a reason naming the request, closes
 * the socket itself, sends no data for it, allocates nothing of the size asked for, and
 * an honest leecher connected meanwhile still gets a byte-identical copy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { tempDir } from "./support/files.ts"
import { hostileLeecher, request } from "./support/hostile-leecher.ts"
import { mib, settledMemory } from "./support/memory.ts"
import { disconnectOf, honestResult, startHonestLeecher, startSeeder } from "./support/seeding.ts"
import { makeTorrent, pieceBytes } from "./support/torrent-fixture.ts"

const PIECE = 64 * 1024
// 17 pieces; the last one is 20000 bytes (more than a block, less than a piece).
const FILES = { "a.bin": 1_000_003, "b.bin": 68_573 }
const TOTAL = 1_068_576
const PIECES = Math.ceil(TOTAL / PIECE)
const LAST = TOTAL - (PIECES - 1) * PIECE

interface BadRequest {
  readonly name: string
  readonly piece: number
  readonly begin: number
  readonly length: number
  readonly reason: RegExp
}

const outOfRange = (piece: number, begin: number, length: number) =>
  new RegExp(`request of ${length} bytes at ${begin} of piece ${piece} is out of range`)

const cases: ReadonlyArray<BadRequest> = [
  { name: "index = piece count", piece: PIECES, begin: 0, length: 16384, reason: new RegExp(`request for piece ${PIECES}, but the torrent has ${PIECES}`) },
  { name: "index 0xffffffff", piece: 0xffff_ffff, begin: 0, length: 16384, reason: new RegExp(`request for piece ${0xffff_ffff}, but the torrent has ${PIECES}`) },
  { name: "length 16 KiB + 1", piece: 0, begin: 0, length: 16385, reason: outOfRange(0, 0, 16385) },
  { name: "length 0xffffffff", piece: 1, begin: 0, length: 0xffff_ffff, reason: outOfRange(1, 0, 0xffff_ffff) },
  { name: "length 0", piece: 2, begin: 0, length: 0, reason: outOfRange(2, 0, 0) },
  { name: "begin + length past the piece", piece: 3, begin: PIECE - 100, length: 16384, reason: outOfRange(3, PIECE - 100, 16384) },
  { name: "begin past the piece", piece: 4, begin: PIECE, length: 1, reason: outOfRange(4, PIECE, 1) },
  { name: "begin 0xffffffff", piece: 5, begin: 0xffff_ffff, length: 1, reason: outOfRange(5, 0xffff_ffff, 1) },
  { name: "a full block of the short last piece", piece: PIECES - 1, begin: LAST - 16383, length: 16384, reason: outOfRange(PIECES - 1, LAST - 16383, 16384) }
]

describe("hostile: requests out of range", () => {
  it.live("the fixture has a short last piece", () =>
    Effect.sync(() => {
      assert.isBelow(LAST, PIECE)
      assert.isAbove(LAST, 16383)
    }))

  cases.forEach((bad, i) => {
    const fast = i % 2 === 0
    it.live(`${bad.name}: disconnected as a protocol violation, nothing sent for it${fast ? " (BEP 6)" : ""}`, () =>
      Effect.gen(function*() {
        const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
        assert.strictEqual(fixture.metainfo.pieceCount, PIECES)
        const seeder = yield* startSeeder(fixture)
        const before = yield* settledMemory

        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast, keepBlocks: true })
        yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
        const honest = yield* startHonestLeecher(fixture, seeder.port)
        // A valid request first: it is served; the bad one after it is not.
        yield* h.send([request(6, 0, 16384), request(bad.piece, bad.begin, bad.length)])

        const ended = yield* disconnectOf(seeder, h.key)
        assert.strictEqual(ended.kind, "Protocol")
        assert.match(ended.reason, bad.reason)
        yield* h.waitUntil("the seeder to close the socket", () => h.closedByClient(), 3)
        for (const p of h.pieces()) {
          assert.deepStrictEqual({ piece: p.piece, begin: p.begin, length: p.length }, { piece: 6, begin: 0, length: 16384 }, "only the valid request is served")
          assert.deepStrictEqual(p.data, pieceBytes(fixture, 6).subarray(0, 16384))
        }
        assert.strictEqual(h.rejects().length, 0, "a violation is not answered by a reject: the peer is dropped")
        assert.deepStrictEqual(h.decodeErrors(), [])

        assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
        const after = yield* settledMemory
        // Nothing of the requested size (up to 4 GiB) was allocated; the honest download itself is 1 MiB.
        assert.isBelow(after.bytes - before.bytes, 32 * 1024 * 1024, `memory grew by ${mib(after.bytes - before.bytes)}`)
        assert.isFalse(seeder.log.all().some((e) => e._tag === "Error"))
      }))
  })
})
