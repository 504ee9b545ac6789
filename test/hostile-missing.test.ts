/**
 * Hostile peer against our seeder: requests for pieces the seeder does not have. The
 * seeder's copy is damaged on disk so its check leaves some pieces missing; requests for
 * them get no data, a reject each under BEP 6, and nothing at all without it. The peer
 * stays connected (a few such requests are not a flood), the pieces the seeder has are
 * served byte-identical, and an honest leecher gets every piece the seeder has.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { waitForState } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { hostileLeecher, request } from "./support/hostile-leecher.ts"
import type { BlockRequest } from "./support/scripted-peer.ts"
import { disconnectOf, startHonestLeecher, startSeeder } from "./support/seeding.ts"
import { damagePieces, makeTorrent, pieceBytes, pieceOnDisk } from "./support/torrent-fixture.ts"

const PIECE = 64 * 1024 // 4 blocks
const FILES = { "a.bin": 700_001, "dir/b.bin": 333_333 }
// The last piece (15) is short; 14 is the last full one.
const MISSING = [1, 4, 5, 9, 14]

const key = (b: BlockRequest) => `${b.piece}:${b.begin}:${b.length}`

describe("hostile: requests for pieces the seeder does not have", () => {
  for (const fast of [true, false]) {
    it.live(`no data for them; ${fast ? "a reject each (BEP 6)" : "silently dropped (no BEP 6)"}; the rest is served`, () =>
      Effect.gen(function*() {
        const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
        const { pieceCount } = fixture.metainfo
        const present = Array.from({ length: pieceCount }, (_, i) => i).filter((p) => !MISSING.includes(p))
        yield* damagePieces(fixture, MISSING)
        const seeder = yield* startSeeder(fixture)
        const state = yield* waitForState(seeder.torrent, "the check to finish", (s) => s.status === "downloading")
        assert.strictEqual(state.piecesVerified, present.length, "the check leaves exactly the damaged pieces missing")

        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast, keepBlocks: true })
        yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
        for (let p = 0; p < pieceCount; p++) assert.strictEqual(h.clientHas(p), present.includes(p), `the seeder's opening for piece ${p}`)

        const asked: Array<BlockRequest> = MISSING.flatMap((piece) => [0, 1, 2, 3].map((i) => ({ piece, begin: i * 16384, length: 16384 })))
        const sentinel: BlockRequest = { piece: 0, begin: 16384, length: 16384 }
        // The seeder answers in order: when the sentinel's block is here, every earlier request was handled.
        yield* h.send([...asked, sentinel].map((b) => request(b.piece, b.begin, b.length)))
        yield* h.waitUntil("the sentinel block", () => h.pieces().some((p) => key(p) === key(sentinel)))

        assert.deepStrictEqual(h.pieces().map(key), [key(sentinel)], "only the piece the seeder has is served")
        assert.deepStrictEqual(h.pieces()[0]?.data, pieceBytes(fixture, 0).subarray(16384, 32768))
        if (fast) assert.deepStrictEqual(h.rejects().map(key), asked.map(key), "each request for a missing piece is rejected, in order")
        else assert.strictEqual(h.rejects().length, 0, "no reject without BEP 6")
        assert.isFalse(h.closed(), `${asked.length} unservable requests are no flood`)
        assert.deepStrictEqual(h.decodeErrors(), [])

        // The hostile peer is still connected: an honest leecher gets every piece the seeder has, byte-identical.
        const honest = yield* startHonestLeecher(fixture, seeder.port)
        yield* h.waitUntil(
          `the honest leecher to verify the ${present.length} pieces the seeder has`,
          () => honest.log.all().filter((e) => e._tag === "PieceVerified").length >= present.length,
          10
        )
        const verified = honest.log.all().flatMap((e) => (e._tag === "PieceVerified" ? [e.piece] : []))
        assert.deepStrictEqual([...verified].sort((a, b) => a - b), present)
        for (const p of present) {
          assert.deepStrictEqual(yield* pieceOnDisk(honest.directory, fixture.metainfo, p), pieceBytes(fixture, p), `piece ${p} on the honest leecher's disk`)
        }
        assert.isFalse(seeder.log.all().some((e) => e._tag === "Error"))
        assert.isFalse(h.closed(), "the hostile peer is still connected")
      }))
  }

  it.live("500 requests for missing pieces are tolerated (each rejected); the 501st ends the session as a flood", () =>
    Effect.gen(function*() {
      const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
      yield* damagePieces(fixture, MISSING)
      const seeder = yield* startSeeder(fixture)
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: true })
      yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
      // Distinct blocks (any begin with begin + length inside the piece is a valid request).
      const asked = Array.from({ length: 501 }, (_, i) => request(MISSING[i % MISSING.length] ?? 1, Math.floor(i / MISSING.length), 16384))
      yield* h.send(asked.slice(0, 500))
      yield* h.waitUntil("500 rejects", () => h.rejects().length === 500)
      // A request the seeder can serve, handled after the 500: its block shows the session outlived them.
      yield* h.send(request(0, 0, 16384))
      yield* h.waitUntil("the block of piece 0", () => h.count("Piece") === 1)
      assert.isFalse(h.closed(), "500 dropped requests are within the limit")
      assert.strictEqual(h.rejects().length, 500)
      yield* h.send(asked.slice(500))
      const ended = yield* disconnectOf(seeder, h.key)
      assert.strictEqual(ended.kind, "Protocol")
      assert.match(ended.reason, /501 requests we could not serve \(request flood\)/)
      yield* h.waitUntil("the seeder to close the socket", () => h.closedByClient(), 3)
      assert.strictEqual(h.count("Piece"), 1, "nothing but the one servable block")
    }))
})
