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
      // 64 KiB/s: a burst of 4 blocks, then 4 a second. The writer drains the queue far slower than the flood fills it.
      const seeder = yield* startSeeder(fixture, { uploadLimit: 64 * 1024 })
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: true, keepBlocks: false })
      yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
      // In steps of 25, noting how many were sent when the session ended.
      const STEP = 25
      let sent = 0
      while (!isDisconnected(seeder, h.key) && sent < 2000) {
        yield* h.send(distinctRequests(PIECE, 6, STEP, sent))
        sent += STEP
        yield* Effect.sleep("20 millis")
      }
      const ended = yield* disconnectOf(seeder, h.key)
      assert.strictEqual(ended.kind, "Protocol")
      assert.match(ended.reason, FLOOD)
      // At least 250 accepted and 501 refused were read; a few more accepted as the writer took some from the queue.
      assert.isAtLeast(sent, MAX_UPLOAD_QUEUE + MAX_VIOLATIONS + 1, "ended before the queue was full")
      assert.isAtMost(sent, MAX_UPLOAD_QUEUE + MAX_VIOLATIONS + 1 + 16 + 2 * STEP, `the queue took far more than ${MAX_UPLOAD_QUEUE}: ${sent} sent`)
      assert.isAtMost(h.count("Piece"), MAX_UPLOAD_QUEUE, "no more than the queue's worth is served")
      assert.isAtMost(h.rejects().length, MAX_VIOLATIONS + 1)

      const honest = yield* startHonestLeecher(fixture, seeder.port)
      assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
    }))
})
