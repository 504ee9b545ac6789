/**
 * Hostile peer against our seeder: a flood of valid requests while unchoked. The seeder
 * queues at most `maxUploadQueue` (250) of a peer's requests; the rest are dropped (and
 * rejected under BEP 6) and counted, and past `maxViolations` (500) the peer is
 * disconnected as a flood. Memory stays bounded, and an honest leecher still gets a
 * byte-identical copy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { tempDir } from "./support/files.ts"
import { distinctRequests, hostileLeecher } from "./support/hostile-leecher.ts"
import { mib, settledMemory } from "./support/memory.ts"
import { disconnectOf, honestResult, isDisconnected, startHonestLeecher, startSeeder } from "./support/seeding.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"

const FLOOD = /^peer \S+: 501 requests we could not serve \(request flood\)$/
const MAX_UPLOAD_QUEUE = 250
const MAX_VIOLATIONS = 500

describe("hostile: request flood while unchoked", () => {
  for (const fast of [true, false]) {
    it.live(`100k requests from a peer that never reads: disconnected as a flood, memory bounded${fast ? " (BEP 6)" : ""}`, () =>
      Effect.gen(function*() {
        const PIECE = 64 * 1024
        const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 800_000, "b.bin": 211_111 }, PIECE)
        const seeder = yield* startSeeder(fixture)
        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast })
        yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
        const flood = distinctRequests(PIECE, 15, 100_000)
        const before = yield* settledMemory
        // Its receive window fills, the seeder's writer blocks, its upload queue fills up.
        yield* h.pauseReading
        yield* h.send(flood)
        const ended = yield* disconnectOf(seeder, h.key)
        assert.strictEqual(ended.kind, "Protocol")
        assert.match(ended.reason, FLOOD)
        const after = yield* settledMemory
        assert.isBelow(after.bytes - before.bytes, 32 * 1024 * 1024, `memory grew by ${mib(after.bytes - before.bytes)}`)
        assert.isFalse((yield* seeder.torrent.peers).some((p) => p.key === h.key), "the session is gone")

        yield* h.resumeReading
        const honest = yield* startHonestLeecher(fixture, seeder.port)
        assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
        assert.isFalse(seeder.log.all().some((e) => e._tag === "Error"))
      }))
  }

  it.live(`the upload queue holds ${MAX_UPLOAD_QUEUE} requests: the ${MAX_VIOLATIONS + 1}st refused one after that ends the session`, () =>
    Effect.gen(function*() {
      const PIECE = 32 * 1024
      // 7 pieces: 6 full and a short one.
      const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 150_000, "b.bin": 50_000 }, PIECE)
      // 64 KiB/s: a burst of 4 blocks, then 4 a second. The writer drains the queue far slower than requests fill it.
      const seeder = yield* startSeeder(fixture, { uploadLimit: 64 * 1024 })
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: true, keepBlocks: false })
      yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
      // Enough to fill the queue and refuse 500 more, if the writer took nothing from it meanwhile.
      const first = MAX_UPLOAD_QUEUE + MAX_VIOLATIONS
      yield* h.send(distinctRequests(PIECE, 6, first))
      // Refused requests get a reject each, in order: the last one's reject shows every one was handled.
      const last = { piece: (first - 1) % 6, begin: Math.floor((first - 1) / 6), length: 16384 }
      yield* h.waitUntil("the reject of the last request", () => h.rejects().some((r) => r.piece === last.piece && r.begin === last.begin))
      const refused = h.rejects().length
      const accepted = first - refused
      assert.isFalse(isDisconnected(seeder, h.key), `${refused} refused requests are within the limit`)
      assert.isAtLeast(accepted, MAX_UPLOAD_QUEUE, "the queue holds its 250 requests")
      // The writer takes blocks off the queue as the rate allows; each goes out before any later reject,
      // except the one waiting for the rate limit (and the next, in the same write as the last reject).
      assert.isAtMost(accepted, MAX_UPLOAD_QUEUE + h.count("Piece") + 2, `the queue took more than ${MAX_UPLOAD_QUEUE}: ${accepted} accepted`)
      // More requests: the next refusals reach the limit and end the session.
      yield* h.send(distinctRequests(PIECE, 6, 100, first))
      const ended = yield* disconnectOf(seeder, h.key)
      assert.strictEqual(ended.kind, "Protocol")
      assert.match(ended.reason, FLOOD)
      assert.isAtMost(h.count("Piece"), MAX_UPLOAD_QUEUE, "no more than the queue's worth is served")
      assert.isAtMost(h.rejects().length, MAX_VIOLATIONS + 1)

      const honest = yield* startHonestLeecher(fixture, seeder.port)
      assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
    }))
})
