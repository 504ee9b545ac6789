/**
 * Hostile peer against our seeder: requests while the seeder chokes it. The seeder's one
 * upload slot is taken by an honest leecher (our own client, connected first), so the
 * hostile peer is never unchoked on connect, and the next rechoke is 10 s away; whether
 * it says it is interested or not, nothing is served: under BEP 6 each request gets a
 * reject, without it they are dropped silently, and past 500 of them the peer is a flood.
 * The honest leecher still gets a byte-identical copy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { tempDir } from "./support/files.ts"
import { distinctRequests, hostileLeecher, request } from "./support/hostile-leecher.ts"
import { mib, settledMemory } from "./support/memory.ts"
import { disconnectOf, honestResult, startHonestLeecher, startSeeder, unchokedPeers } from "./support/seeding.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { eventually } from "./support/waiting.ts"

const PIECE = 64 * 1024
// 16 pieces, the last one short.
const FILES = { "a.bin": 800_000, "b.bin": 211_111 }
const FULL_PIECES = 15

/** A seeder with one upload slot, held by an honest leecher (still downloading or done). */
const seederWithSlotTaken = Effect.gen(function*() {
  const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
  const seeder = yield* startSeeder(fixture, { uploadSlots: 1 })
  const honest = yield* startHonestLeecher(fixture, seeder.port)
  const unchoked = yield* eventually("the seeder to unchoke the honest leecher", unchokedPeers(seeder), (keys) => keys.length > 0)
  assert.strictEqual(unchoked.length, 1, "the honest leecher holds the only upload slot")
  return { fixture, seeder, honest }
})

describe("hostile: requests while choked", () => {
  it.live("not interested, BEP 6: 100 requests, 100 rejects, no data", () =>
    Effect.gen(function*() {
      const { fixture, seeder, honest } = yield* seederWithSlotTaken
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: true, interested: false })
      yield* h.send(distinctRequests(PIECE, FULL_PIECES, 100))
      yield* h.waitUntil("100 rejects", () => h.rejects().length === 100)
      // One more request, handled after the 100: its reject comes after anything they caused.
      yield* h.send(request(0, 16384, 16384))
      yield* h.waitUntil("the 101st reject", () => h.rejects().length === 101)
      assert.deepStrictEqual(h.rejects()[100], { piece: 0, begin: 16384, length: 16384 })
      assert.isTrue(h.choked())
      assert.strictEqual(h.count("Unchoke"), 0)
      assert.strictEqual(h.count("Piece"), 0, "nothing is served while choked")
      assert.isFalse(h.closed(), "100 dropped requests are no flood")
      assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
      assert.isTrue(h.choked() && h.count("Piece") === 0)
    }))

  it.live("interested but no slot, no BEP 6: requests are dropped silently, no data", () =>
    Effect.gen(function*() {
      const { fixture, seeder, honest } = yield* seederWithSlotTaken
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: false, interested: true })
      yield* h.send(distinctRequests(PIECE, FULL_PIECES, 100))
      // The seeder handles messages in order: when this ends the session, the 100 were handled.
      yield* h.send(request(fixture.metainfo.pieceCount, 0, 16384))
      const ended = yield* disconnectOf(seeder, h.key)
      assert.strictEqual(ended.kind, "Protocol")
      assert.match(ended.reason, /request for piece 16, but the torrent has 16/, "the session ends on the bad request, not before")
      yield* h.waitUntil("the seeder to close the socket", () => h.closedByClient(), 3)
      assert.strictEqual(h.count("Unchoke"), 0)
      assert.strictEqual(h.count("Piece"), 0, "nothing is served while choked")
      assert.strictEqual(h.count("Reject"), 0, "no reject without BEP 6")
      assert.deepStrictEqual(h.decodeErrors(), [])
      assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
    }))

  for (const fast of [true, false]) {
    it.live(`a flood of 100k requests while choked ends the session at the 501st${fast ? " (BEP 6)" : ""}; memory stays bounded`, () =>
      Effect.gen(function*() {
        const { fixture, seeder, honest } = yield* seederWithSlotTaken
        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast, interested: false })
        const flood = distinctRequests(PIECE, FULL_PIECES, 100_000)
        const before = yield* settledMemory
        yield* h.send(flood)
        const ended = yield* disconnectOf(seeder, h.key)
        assert.strictEqual(ended.kind, "Protocol")
        assert.match(ended.reason, /^peer \S+: 501 requests we could not serve \(request flood\)$/)
        yield* h.waitUntil("the seeder to close the socket", () => h.closedByClient(), 3)
        assert.strictEqual(h.count("Piece"), 0, "nothing is served while choked")
        if (fast) assert.isAtMost(h.rejects().length, 501)
        else assert.strictEqual(h.rejects().length, 0)
        const after = yield* settledMemory
        assert.isBelow(after.bytes - before.bytes, 16 * 1024 * 1024, `memory grew by ${mib(after.bytes - before.bytes)}`)
        assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
      }))
  }
})
