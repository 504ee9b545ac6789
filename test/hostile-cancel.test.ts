/**
 * Hostile peer against our seeder: `cancel`.
 *
 * A cancelled request still waiting in the upload queue is never sent; with BEP 6 it is
 * answered by a reject instead (BEP 6: "a cancel is answered by a reject or the piece"),
 * so every request gets exactly one answer. The client's global upload limit makes the
 * queue drain slowly enough for this to be deterministic on loopback.
 *
 * Then a cancel flood: request/cancel pairs never count as violations, so they must not
 * cost memory either while the writer is busy.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { tempDir } from "./support/files.ts"
import { cancel, concat, hostileLeecher, request } from "./support/hostile-leecher.ts"
import { mib, settledMemory } from "./support/memory.ts"
import type { BlockRequest } from "./support/scripted-peer.ts"
import { honestResult, startHonestLeecher, startSeeder } from "./support/seeding.ts"
import { makeTorrent, pieceBytes } from "./support/torrent-fixture.ts"
import { eventually } from "./support/waiting.ts"
import { encodeMessage } from "../src/wire/index.ts"

const PIECE = 32 * 1024 // 2 blocks
const BLOCK = 16 * 1024
// 19 pieces, 38 blocks (the last one short).
const FILES = { "a.bin": 400_000, "b.bin": 200_003 }
// Burst of 8 blocks at once, then 8 blocks a second.
const UPLOAD_LIMIT = 128 * 1024

const blocks = (pieceCount: number, totalSize: number): ReadonlyArray<BlockRequest> => {
  const out: Array<BlockRequest> = []
  for (let piece = 0; piece < pieceCount; piece++) {
    const size = Math.min(PIECE, totalSize - piece * PIECE)
    for (let begin = 0; begin < size; begin += BLOCK) out.push({ piece, begin, length: Math.min(BLOCK, size - begin) })
  }
  return out
}

const key = (b: BlockRequest) => `${b.piece}:${b.begin}:${b.length}`

describe("hostile: cancel", () => {
  for (const fast of [true, false]) {
    it.live(`queued requests that are cancelled are not sent${fast ? "; each is rejected (BEP 6)" : " (no BEP 6)"}`, () =>
      Effect.gen(function*() {
        const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
        const seeder = yield* startSeeder(fixture, { uploadLimit: UPLOAD_LIMIT })
        const all = blocks(fixture.metainfo.pieceCount, fixture.metainfo.totalSize)
        const asked = all.slice(0, 32)
        const sentinel = all[33]
        if (sentinel === undefined) return yield* Effect.die(new Error("fixture too small"))

        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast, keepBlocks: true })
        assert.isTrue(h.clientFast, "our client offers the fast extension")
        yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
        yield* h.send(asked.map((b) => request(b.piece, b.begin, b.length)))
        // Once a block is here, the writer is sending the burst and the rest wait on the rate limit.
        yield* h.waitUntil("the first block", () => h.pieces().length > 0)
        yield* h.send(asked.map((b) => cancel(b.piece, b.begin, b.length)))
        // Served in order after everything before it: once it is here, every cancelled block had its chance.
        yield* h.send(request(sentinel.piece, sentinel.begin, sentinel.length))
        yield* h.waitUntil("the sentinel block", () => h.pieces().some((p) => key(p) === key(sentinel)), 8)

        const served = h.pieces().filter((p) => key(p) !== key(sentinel))
        const rejected = h.rejects()
        const askedKeys = new Set(asked.map(key))
        for (const p of h.pieces()) {
          assert.deepStrictEqual(p.data, pieceBytes(fixture, p.piece).subarray(p.begin, p.begin + p.length), `block ${key(p)} is the seeder's data`)
        }
        assert.isTrue(served.every((p) => askedKeys.has(key(p))), "only requested blocks are sent")
        assert.strictEqual(new Set(served.map(key)).size, served.length, "no block is sent twice")
        // 8 blocks of burst pass at once and one more is under way when the cancels arrive (8 more a
        // second if the machine is slow to deliver them): the rest must not come.
        assert.isAtMost(served.length, 20, `cancelled blocks were sent: ${served.length} of ${asked.length}`)
        assert.isAtLeast(served.length, 1, "the burst before the cancels is served")
        if (fast) {
          const servedKeys = new Set(served.map(key))
          assert.strictEqual(new Set(rejected.map(key)).size, rejected.length, "no block is rejected twice")
          for (const r of rejected) {
            assert.isTrue(askedKeys.has(key(r)), `reject of ${key(r)}, which was not requested`)
            assert.isFalse(servedKeys.has(key(r)), `${key(r)} was both sent and rejected`)
          }
          assert.strictEqual(served.length + rejected.length, asked.length, "every cancelled request gets a piece or a reject")
        } else {
          assert.strictEqual(rejected.length, 0, "no reject without BEP 6")
        }
        assert.deepStrictEqual(h.decodeErrors(), [])
        assert.isFalse(h.closed(), "a cancel is no violation: the peer stays connected")

        // The hostile peer is still connected: an honest leecher gets everything meanwhile.
        const honest = yield* startHonestLeecher(fixture, seeder.port)
        assert.deepStrictEqual(yield* honestResult(fixture, honest), [])
        assert.isFalse(seeder.log.all().some((e) => e._tag === "Error"))
      }), 20_000)
  }

  it.live("a request cancelled, then asked again with another length, is served with the new length", () =>
    Effect.gen(function*() {
      const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
      const seeder = yield* startSeeder(fixture, { uploadLimit: UPLOAD_LIMIT })
      const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast: true, keepBlocks: true })
      yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
      // Keep the writer busy past its burst, so the next requests wait in the queue.
      const all = blocks(fixture.metainfo.pieceCount, fixture.metainfo.totalSize)
      yield* h.send(all.slice(0, 12).map((b) => request(b.piece, b.begin, b.length)))
      yield* h.waitUntil("the first block", () => h.pieces().length > 0)
      const piece = 15
      yield* h.send([request(piece, 0, BLOCK), cancel(piece, 0, BLOCK), request(piece, 0, 100)])
      yield* h.waitUntil("an answer for the block", () => h.pieces().some((p) => p.piece === piece), 8)
      const answers = h.pieces().filter((p) => p.piece === piece)
      assert.deepStrictEqual(answers.map((p) => p.length), [100], "the block as last requested, once")
      assert.deepStrictEqual(answers[0]?.data, pieceBytes(fixture, piece).subarray(0, 100))
      assert.deepStrictEqual(h.rejects(), [{ piece, begin: 0, length: BLOCK }], "the cancelled request is rejected (BEP 6)")
    }), 15_000)

  for (const fast of [true, false]) {
    it.live(`a request/cancel flood while the writer is busy keeps memory bounded${fast ? " (BEP 6)" : " (no BEP 6)"}`, () =>
      Effect.gen(function*() {
        const fixture = yield* makeTorrent(yield* tempDir(), "payload", FILES, PIECE)
        // 2 blocks a second: the writer stays busy with the first requests for the whole flood.
        const seeder = yield* startSeeder(fixture, { uploadLimit: 32 * 1024 })
        const all = blocks(fixture.metainfo.pieceCount, fixture.metainfo.totalSize)
        // Rejects are counted, not kept: 300k kept rejects are ~20 MiB of the test's own heap.
        const h = yield* hostileLeecher({ port: seeder.port, infoHash: fixture.infoHash, fast, keepRejects: false })
        yield* h.waitUntil("the seeder to unchoke the hostile peer", () => !h.choked())
        yield* h.send(all.slice(0, 24).map((b) => request(b.piece, b.begin, b.length)))
        yield* h.waitUntil("the first block", () => h.pieces().length > 0)

        const before = yield* settledMemory
        // 300k pairs (10 MB on the wire), each for a block not in the queue: accepted, then cancelled.
        const PAIRS = 300_000
        const pieceCount = fixture.metainfo.pieceCount - 1 // full-size pieces only
        for (let sent = 0; sent < PAIRS; sent += 10_000) {
          const frames: Array<Uint8Array> = []
          for (let i = sent; i < sent + 10_000; i++) {
            const n = i % (pieceCount * (PIECE - BLOCK))
            const piece = n % pieceCount
            const begin = Math.floor(n / pieceCount) + 1 // never 0: not one of the queued blocks
            frames.push(request(piece, begin, BLOCK), cancel(piece, begin, BLOCK))
          }
          // A client that stops reading (backpressure) or drops us is fine: stop sending then.
          const written = yield* h.send(concat(frames)).pipe(Effect.timeoutOption("2 seconds"))
          if (Option.isNone(written) || h.closed()) break
        }
        // The seeder handles messages in order: once it sees this "not interested", it has read
        // every pair before it. Measure then, while the session still holds whatever they left.
        yield* h.send(encodeMessage({ _tag: "NotInterested" }))
        yield* eventually(
          "the seeder to read the whole flood",
          seeder.torrent.peers,
          (peers) => h.closed() || peers.some((p) => p.key === h.key && !p.peerInterested),
          45
        )
        const after = yield* settledMemory
        const growth = after.bytes - before.bytes
        assert.isBelow(
          growth,
          8 * 1024 * 1024,
          `memory grew by ${mib(growth)} (heap ${mib(after.heapUsed - before.heapUsed)}) after ${PAIRS} request/cancel pairs; connected: ${!h.closed()}`
        )

        const honest = yield* startHonestLeecher(fixture, seeder.port)
        // The hostile peer shares the 32 KiB/s limit; only check the seeder still answers.
        yield* honest.log.waitFor("a piece from the seeder", (e) => e._tag === "PieceVerified", "10 seconds")
      }), 60_000)
  }
})
