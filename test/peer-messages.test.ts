/**
 * What a session does with each message from its peer (src/peer/messages.ts), one message
 * at a time, against the real picker and real in-memory torrent storage. The torrent side
 * of the session (verified/failed pieces, replies, unchoke, wake-ups) is recorded: it is
 * what the handler is asked to do. BEP 3 violations end the session with a typed
 * `Protocol` error; odd but harmless traffic is dropped and counted; BEP 6 answers
 * refused and cancelled requests with a reject.
 */
import { type PeerKey, peerKey, PieceIndex } from "../src/ids.ts"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import type { Connection } from "../src/net/index.ts"
import { DEFAULT_SESSION_OPTIONS } from "../src/peer/index.ts"
import type { SessionContext } from "../src/peer/context.ts"
import { handleMessage } from "../src/peer/messages.ts"
import { makeSessionState } from "../src/peer/session-state.ts"
import { makePicker } from "../src/scheduler/index.ts"
import { makeMemoryStorage } from "../src/storage/index.ts"
import { Bitfield, type Message } from "../src/wire/index.ts"
import { tempDir } from "./support/files.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { testTorrentLink } from "./support/torrent-link.ts"

const PIECE = 32 * 1024
const BLOCK = 16 * 1024
const KEY = peerKey({ host: "127.0.0.1", port: 6881 })

/** Never read or written by the message handler: a session's connection is the outbox's business. */
const noConnection = new Proxy({}, { get: () => assert.fail("the message handler touched the connection") }) as Connection

interface Recorded {
  readonly replies: Array<Message>
  readonly sent: Array<Message>
  readonly verified: Array<number>
  readonly failed: Array<{ readonly piece: number; readonly contributors: ReadonlyArray<string> }>
  unchoked: number
  interestUpdates: number
  fills: number
  wakeAlls: number
  uploadSignals: number
  downloaded: number
}

/**
 * A session context on a 5-piece torrent (the last piece short). `seeding`: our storage
 * holds every piece; otherwise none.
 */
const sessionContext = (options: { readonly fast: boolean; readonly seeding: boolean; readonly initialUnchoke?: boolean }) =>
  Effect.gen(function*() {
    const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 4 * PIECE + 5000 }, PIECE)
    const meta = fixture.metainfo
    const storage = yield* makeMemoryStorage().open(meta, { directory: "/messages-test" })
    const pieceBytes = (piece: number) => fixture.data.subarray(piece * PIECE, Math.min((piece + 1) * PIECE, fixture.data.length))
    if (options.seeding) for (let p = 0; p < meta.pieceCount; p++) yield* storage.putBlock(PieceIndex(p), 0, pieceBytes(p))
    const have = Bitfield.make(meta.pieceCount)
    if (options.seeding) for (let p = 0; p < meta.pieceCount; p++) Bitfield.set(have, p)
    const picker = makePicker<PeerKey>({ pieceCount: meta.pieceCount, pieceLength: meta.pieceLength, totalSize: meta.totalSize, have: have.bytes })
    if (Result.isFailure(picker)) return yield* Effect.die(new Error(picker.failure))
    const r: Recorded = { replies: [], sent: [], verified: [], failed: [], unchoked: 0, interestUpdates: 0, fills: 0, wakeAlls: 0, uploadSignals: 0, downloaded: 0 }
    const torrent = testTorrentLink(fixture, picker.success, storage, {
      wakeAll: () => void r.wakeAlls++,
      onPieceVerified: (piece) => Effect.sync(() => void r.verified.push(piece)),
      onPieceFailed: (piece, contributors) => Effect.sync(() => void r.failed.push({ piece, contributors: [...contributors] })),
      onDownloaded: (bytes) => void (r.downloaded += bytes),
      isComplete: () => options.seeding,
      initialUnchoke: () => options.initialUnchoke ?? false
    })
    // As the session does when it starts: the peer has nothing until it says otherwise.
    picker.success.peerHasNone(KEY)
    const s = makeSessionState(KEY, noConnection, options.fast, "test", 0, 250, meta.pieceCount)
    const ctx: SessionContext = {
      s,
      torrent,
      options: DEFAULT_SESSION_OPTIONS,
      send: (m) => void r.sent.push(m),
      end: () => assert.fail("the handler ended the session itself instead of failing"),
      fill: () => void r.fills++,
      reply: (m) => Effect.sync(() => void r.replies.push(m)),
      signalUploads: () => void r.uploadSignals++,
      updateInterest: () => void r.interestUpdates++,
      unchoke: () => {
        r.unchoked++
        s.stats.amChoking = false
      },
      now: () => 1000,
      // run at once, as the session does when it does not end first (peer-session-end tests that)
      mustRun: (effect) => effect,
      keep: (bytes) => bytes
    }
    const handle = (m: Message) => Effect.exit(handleMessage(ctx, m))
    return { ctx, s, r, handle, meta, pieceBytes, picker: picker.success }
  })

/** The `Protocol` error a message ended the session with. */
const violation = (exit: Exit.Exit<void, { readonly reason: string; readonly message: string }>) => {
  if (Exit.isSuccess(exit)) return assert.fail("the message was accepted")
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") return assert.fail("the session did not fail with a typed error")
  assert.strictEqual(error.error.reason, "Protocol")
  return error.error.message
}

describe("peer messages: what the peer has", () => {
  it.effect("have: counted once, makes the peer interesting; an index past the torrent is a violation", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: false })
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Have", index: 2 })))
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Have", index: 2 })))
      assert.strictEqual(s.stats.haveCount, 1)
      assert.isTrue(Bitfield.get(s.peerPieces, 2))
      assert.strictEqual(r.interestUpdates, 1, "interest is re-evaluated when the peer first has something we want")
      assert.match(violation(yield* handle({ _tag: "Have", index: 5 })), /have for piece 5, but the torrent has 5/)
    }))

  it.effect("bitfield: the first sets what the peer has; a later one only adds; spare bits set are a violation", () =>
    Effect.gen(function*() {
      const { s, handle, picker } = yield* sessionContext({ fast: false, seeding: false })
      const bits = Bitfield.make(5)
      Bitfield.set(bits, 0)
      Bitfield.set(bits, 3)
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Bitfield", bits: bits.bytes })))
      assert.strictEqual(s.stats.haveCount, 2)
      assert.isFalse(s.stats.isSeed)
      assert.strictEqual(picker.availability(PieceIndex(3)), 1)
      // aria2 sends whole bitfields instead of haves: new bits count, nothing is lost
      const later = Bitfield.make(5)
      Bitfield.set(later, 1)
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Bitfield", bits: later.bytes })))
      assert.strictEqual(s.stats.haveCount, 3)
      assert.isTrue(Bitfield.get(s.peerPieces, 0) && Bitfield.get(s.peerPieces, 1) && Bitfield.get(s.peerPieces, 3))

      const other = yield* sessionContext({ fast: false, seeding: false })
      assert.match(violation(yield* other.handle({ _tag: "Bitfield", bits: Uint8Array.of(0b1111_1100) })), /bitfield/i)
      assert.match(violation(yield* other.handle({ _tag: "Bitfield", bits: Uint8Array.of(0, 0) })), /bitfield/i)
    }))

  it.effect("have all / have none (BEP 6)", () =>
    Effect.gen(function*() {
      const { s, handle, picker } = yield* sessionContext({ fast: true, seeding: false })
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "HaveAll" })))
      assert.isTrue(s.stats.isSeed)
      assert.strictEqual(s.stats.haveCount, 5)
      assert.isTrue(picker.isInteresting(KEY))
      const none = yield* sessionContext({ fast: true, seeding: false })
      assert.isTrue(Exit.isSuccess(yield* none.handle({ _tag: "HaveNone" })))
      assert.isTrue(none.s.receivedBitfield)
      assert.strictEqual(none.s.stats.haveCount, 0)
    }))
})

describe("peer messages: the peer's requests (we upload)", () => {
  it.effect("an accepted request is queued once and wakes the writer", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: true })
      s.stats.amChoking = false
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Request", index: 1, begin: BLOCK, length: BLOCK })))
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Request", index: 1, begin: BLOCK, length: BLOCK })))
      assert.deepStrictEqual([...s.uploads.values()], [{ piece: 1, begin: BLOCK, length: BLOCK }])
      assert.strictEqual(r.uploadSignals, 1)
      assert.deepStrictEqual(r.replies, [])
    }))

  it.effect("a hash request on a torrent without piece layers is rejected, choked or not; a flood of them ends the session", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: true })
      const request = { piecesRoot: new Uint8Array(32).fill(3), baseLayer: 1, index: 0, length: 2, proofLayers: 0 }
      assert.isTrue(s.stats.amChoking)
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "HashRequest", ...request })))
      assert.deepStrictEqual(r.replies, [{ _tag: "HashReject", ...request }])
      for (let i = 0; i < DEFAULT_SESSION_OPTIONS.maxViolations - 1; i++) yield* handle({ _tag: "HashRequest", ...request })
      // past the first 256 (in virtual time, all at once) the peer's request budget says no first
      assert.match(violation(yield* handle({ _tag: "HashRequest", ...request })), /could not serve \(last: a hash request, over this peer's hash request rate/)
    }))

  it.effect("requests outside the torrent or the piece, or of a size BEP 3 forbids, are violations", () =>
    Effect.gen(function*() {
      const { s, handle } = yield* sessionContext({ fast: true, seeding: true })
      s.stats.amChoking = false
      assert.match(violation(yield* handle({ _tag: "Request", index: 5, begin: 0, length: BLOCK })), /request for piece 5, but the torrent has 5/)
      assert.match(violation(yield* handle({ _tag: "Request", index: 0, begin: 0, length: BLOCK + 1 })), /out of range/)
      assert.match(violation(yield* handle({ _tag: "Request", index: 0, begin: 0, length: 0 })), /out of range/)
      assert.match(violation(yield* handle({ _tag: "Request", index: 4, begin: 0, length: 5001 })), /of piece 4 is out of range/)
      assert.strictEqual(s.uploads.size, 0)
    }))

  for (const fast of [true, false]) {
    it.effect(`requests we cannot serve are ${fast ? "rejected (BEP 6)" : "dropped"}, counted, and the 501st is a flood`, () =>
      Effect.gen(function*() {
        const { s, r, handle } = yield* sessionContext({ fast, seeding: true })
        // choking the peer: nothing is served
        for (let i = 0; i < 500; i++) assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Request", index: i % 5, begin: 0, length: 1000 })))
        assert.strictEqual(s.violations, 500)
        assert.strictEqual(r.replies.length, fast ? 500 : 0)
        if (fast) assert.deepStrictEqual(r.replies[0], { _tag: "Reject", index: 0, begin: 0, length: 1000 })
        assert.match(violation(yield* handle({ _tag: "Request", index: 0, begin: 0, length: 1000 })), /501 requests we could not serve \(request flood\)/)
        assert.strictEqual(s.uploads.size, 0)
      }))
  }

  it.effect("a request for a piece we lack is refused even when unchoked", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: false })
      s.stats.amChoking = false
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Request", index: 0, begin: 0, length: BLOCK })))
      assert.deepStrictEqual(r.replies, [{ _tag: "Reject", index: 0, begin: 0, length: BLOCK }])
      assert.strictEqual(s.uploads.size, 0)
    }))

  it.effect("cancel removes a queued request (a reject under BEP 6); a cancel of another length does nothing", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: true })
      s.stats.amChoking = false
      yield* handle({ _tag: "Request", index: 2, begin: 0, length: BLOCK })
      yield* handle({ _tag: "Cancel", index: 2, begin: 0, length: 100 })
      assert.strictEqual(s.uploads.size, 1, "another length: not that request")
      yield* handle({ _tag: "Cancel", index: 2, begin: 0, length: BLOCK })
      assert.strictEqual(s.uploads.size, 0)
      assert.deepStrictEqual(r.replies, [{ _tag: "Reject", index: 2, begin: 0, length: BLOCK }])
      const plain = yield* sessionContext({ fast: false, seeding: true })
      plain.s.stats.amChoking = false
      yield* plain.handle({ _tag: "Request", index: 2, begin: 0, length: BLOCK })
      yield* plain.handle({ _tag: "Cancel", index: 2, begin: 0, length: BLOCK })
      assert.strictEqual(plain.s.uploads.size, 0)
      assert.deepStrictEqual(plain.r.replies, [], "no reject without BEP 6")
    }))

  it.effect("interested: a free upload slot unchokes at once; not interested is noted", () =>
    Effect.gen(function*() {
      const { s, r, handle } = yield* sessionContext({ fast: true, seeding: true, initialUnchoke: true })
      yield* handle({ _tag: "Interested" })
      assert.isTrue(s.stats.peerInterested)
      assert.strictEqual(r.unchoked, 1)
      yield* handle({ _tag: "NotInterested" })
      assert.isFalse(s.stats.peerInterested)
      const full = yield* sessionContext({ fast: true, seeding: true, initialUnchoke: false })
      yield* full.handle({ _tag: "Interested" })
      assert.strictEqual(full.r.unchoked, 0, "no free slot: wait for the choker")
    }))
})

describe("peer messages: blocks we asked for (we download)", () => {
  /** The peer has everything and unchoked us; we requested every block of piece `piece`. */
  const requested = (fast: boolean, piece: number) =>
    Effect.gen(function*() {
      const c = yield* sessionContext({ fast, seeding: false })
      yield* c.handle({ _tag: "HaveAll" })
      yield* c.handle({ _tag: "Unchoke" })
      const blocks = c.picker.pick(KEY, 100, () => 0).filter((b) => b.piece === piece)
      for (const b of blocks) c.s.requests.set(`${b.piece}:${b.begin}`, { block: b, sentAt: 0 })
      return { ...c, blocks }
    })

  it.effect("a piece's blocks complete it: verified, counted as downloaded", () =>
    Effect.gen(function*() {
      const { s, r, handle, blocks, pieceBytes } = yield* requested(true, 0)
      assert.strictEqual(blocks.length, 2)
      for (const b of blocks) {
        const exit = yield* handle({ _tag: "Piece", index: 0, begin: b.begin, block: pieceBytes(0).subarray(b.begin, b.begin + b.length) })
        assert.isTrue(Exit.isSuccess(exit))
      }
      assert.deepStrictEqual(r.verified, [0])
      assert.strictEqual(s.stats.downloaded, PIECE)
      assert.strictEqual(r.downloaded, PIECE)
      assert.isFalse([...s.requests.keys()].some((k) => k.startsWith("0:")), "piece 0's requests are answered")
    }))

  it.effect("a piece that fails its hash check names the peer that sent it", () =>
    Effect.gen(function*() {
      const { r, handle, blocks, pieceBytes } = yield* requested(true, 0)
      for (const b of blocks) {
        const data = pieceBytes(0).slice(b.begin, b.begin + b.length).map((x) => x ^ 1)
        yield* handle({ _tag: "Piece", index: 0, begin: b.begin, block: data })
      }
      assert.deepStrictEqual(r.verified, [])
      assert.deepStrictEqual(r.failed, [{ piece: 0, contributors: [KEY] }])
    }))

  it.effect("a block we never asked for is counted; one that is no block of the torrent is a violation", () =>
    Effect.gen(function*() {
      const { s, handle, pieceBytes } = yield* sessionContext({ fast: true, seeding: false })
      yield* handle({ _tag: "HaveAll" })
      assert.isTrue(Exit.isSuccess(yield* handle({ _tag: "Piece", index: 1, begin: 0, block: pieceBytes(1).subarray(0, BLOCK) })))
      assert.strictEqual(s.violations, 1, "an unrequested block counts toward the flood limit")
      assert.match(violation(yield* handle({ _tag: "Piece", index: 1, begin: 100, block: new Uint8Array(BLOCK) })), /is not a block of this torrent/)
      assert.match(violation(yield* handle({ _tag: "Piece", index: 9, begin: 0, block: new Uint8Array(BLOCK) })), /piece for piece 9, but the torrent has 5/)
    }))

  it.effect("choke: without BEP 6 our requests are void (back to the picker); with it they stand", () =>
    Effect.gen(function*() {
      const plain = yield* requested(false, 0)
      assert.isAbove(plain.s.requests.size, 0)
      yield* plain.handle({ _tag: "Choke" })
      assert.isTrue(plain.s.stats.peerChoking)
      assert.strictEqual(plain.s.requests.size, 0)
      assert.strictEqual(plain.picker.inflight(KEY), 0)
      assert.strictEqual(plain.r.wakeAlls, 1)
      const fast = yield* requested(true, 0)
      const before = fast.s.requests.size
      yield* fast.handle({ _tag: "Choke" })
      assert.strictEqual(fast.s.requests.size, before, "BEP 6: a choke does not void requests")
    }))

  it.effect("reject of our request: forgotten, back to the picker, other sessions woken", () =>
    Effect.gen(function*() {
      const { s, r, handle, blocks, picker } = yield* requested(true, 0)
      const first = blocks[0]
      if (first === undefined) return assert.fail("no block requested")
      const inflight = picker.inflight(KEY)
      yield* handle({ _tag: "Reject", index: first.piece, begin: first.begin, length: first.length })
      assert.isFalse(s.requests.has(`${first.piece}:${first.begin}`))
      assert.strictEqual(picker.inflight(KEY), inflight - 1)
      assert.strictEqual(r.wakeAlls, 1)
      // a reject of something we never asked for changes nothing
      yield* handle({ _tag: "Reject", index: 4, begin: 0, length: 5000 })
      assert.strictEqual(r.wakeAlls, 1)
    }))
})
