/**
 * A session that ends between a block's arrival and its store (src/peer/peer-session.ts
 * `mustRun`, `finish`). The picker counts a block received as soon as it arrives; what
 * stores it (or acts on the piece it completes) runs after a yield, in a fiber of the
 * session. A pause interrupts the session: landing in that gap, it lost the block while the
 * picker still counted it, so nobody requested it again and its piece never completed
 * (test/pause-peers, 1 run in ~8 under load). Now the session's end hands that work to the
 * torrent's background work.
 *
 * Deterministic: the session is the real one (reader, outbox over a real TCP connection on
 * 127.0.0.1, real picker, real file or memory storage); the test feeds a piece's frames to
 * its reader and ends it in the same turn, as session.ts does (`finish`, then the session's
 * scope closes, interrupting its fibers).
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FiberSet, Layer, Result, Scope } from "effect"
import { type PeerKey, peerKey, PieceIndex } from "../src/ids.ts"
import { type Connection, Network, NodeNetwork } from "../src/net/index.ts"
import type { PeerError } from "../src/peer/index.ts"
import { makePicker } from "../src/scheduler/index.ts"
import { FileStorage, makeMemoryStorage, Storage } from "../src/storage/index.ts"
import { Bitfield, encodeMessages, type Message } from "../src/wire/index.ts"
import { tempDir } from "./support/files.ts"
import { liveSession } from "./support/live-session.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { testTorrentLink } from "./support/torrent-link.ts"

const PIECE = 32 * 1024
const BLOCK = 16 * 1024
const KEY = peerKey({ host: "127.0.0.1", port: 6881 })

const connectedPair = Effect.gen(function*() {
  const net = yield* Network
  const listener = yield* net.listen({ host: "127.0.0.1", port: 0 })
  const ours = yield* net.connect(listener.address)
  yield* listener.accept
  return ours
})

/**
 * A session on a 3-piece torrent kept in `backend` storage, whose peer said it has every
 * piece and unchoked us; returns it with the piece whose both blocks it requested. The
 * torrent's background work is a FiberSet of the test; a verified piece is told to the
 * picker, as the torrent does.
 */
const requestingSession = (ours: Connection, backend: "file" | "memory") =>
  Effect.gen(function*() {
    const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 3 * PIECE }, PIECE)
    const meta = fixture.metainfo
    const storage = backend === "memory"
      ? yield* makeMemoryStorage().open(meta, { directory: "/session-end" })
      : yield* (yield* Storage).open(meta, { directory: yield* tempDir() })
    const picker = makePicker<PeerKey>({
      pieceCount: meta.pieceCount,
      pieceLength: meta.pieceLength,
      totalSize: meta.totalSize,
      have: Bitfield.make(meta.pieceCount).bytes
    })
    if (Result.isFailure(picker)) return yield* Effect.die(new Error(picker.failure))
    const background = yield* FiberSet.make<void, never>()
    const verified: Array<number> = []
    const torrent = testTorrentLink(fixture, picker.success, storage, {
      onPieceVerified: (piece) =>
        Effect.sync(() => {
          picker.success.pieceVerified(piece)
          verified.push(piece)
        }),
      onPieceFailed: (piece) => Effect.die(new Error(`piece ${piece} failed its hash check`)),
      background: (effect) => FiberSet.run(background, effect).pipe(Effect.asVoid)
    })
    // as session.ts makes one: its fibers in a FiberSet of a scope of its own
    const scope = yield* Scope.make()
    const fibers = yield* FiberSet.make<void, PeerError>().pipe(Scope.provide(scope))
    const { s, session } = yield* liveSession(KEY, ours, torrent, yield* FiberSet.runtime(fibers)<never>())
    picker.success.peerHasNone(KEY)
    assert.isTrue(session.onChunk(encodeMessages([{ _tag: "HaveAll" }, { _tag: "Unchoke" }])))
    const first = [...s.requests.values()][0]
    if (first === undefined) return assert.fail("the session requested nothing")
    const piece = first.block.piece
    assert.isTrue(s.requests.has(`${piece}:0`) && s.requests.has(`${piece}:${BLOCK}`), "both blocks of the piece requested")
    const start = piece * PIECE
    const blocks: ReadonlyArray<Message> = [0, BLOCK].map((begin) => ({
      _tag: "Piece",
      index: piece,
      begin,
      block: fixture.data.slice(start + begin, start + begin + BLOCK)
    }))
    /** Ends the session as session.ts does once its fiber is interrupted. */
    const end = Effect.suspend(() => Effect.andThen(session.finish(), Scope.close(scope, Exit.void)))
    return { session, piece: PieceIndex(piece), blocks, end, background, verified, picker: picker.success, storage, fibers }
  })

const layer = Layer.mergeAll(NodeNetwork.layer, FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer)))

describe("a session that ends before a block it received is stored", () => {
  for (const backend of ["file", "memory"] as const) {
    it.live(`${backend} storage: the piece the block completed is still stored and verified (the picker's count holds)`, () =>
      Effect.gen(function*() {
        const t = yield* requestingSession(yield* connectedPair, backend)
        // The piece's last block: the picker counts it at once; its store (file: the piece's
        // hash check and write; memory: the verdict) waits in a fiber for its turn...
        const stalled = yield* Effect.suspend(() => {
          const read = t.session.onChunk(encodeMessages(t.blocks))
          // ...and the session ends in that same turn, as a pause ends it
          return Effect.as(t.end, read)
        })
        assert.isFalse(stalled, "the reader waited for the block's store")
        yield* FiberSet.awaitEmpty(t.background)
        assert.deepStrictEqual(t.verified, [t.piece], "the piece was verified once")
        assert.isTrue(t.picker.isVerified(t.piece))
        assert.isTrue(t.storage.hasPiece(t.piece))
        assert.isNull(t.picker.checkInvariants())
      }).pipe(Effect.provide(layer)))
  }

  it.live("a session that ends after the store ran hands nothing over: the piece is stored once", () =>
    Effect.gen(function*() {
      const t = yield* requestingSession(yield* connectedPair, "file")
      assert.isFalse(t.session.onChunk(encodeMessages(t.blocks)))
      // the session's fiber runs the store (it forks the hash check) and reads on
      yield* FiberSet.awaitEmpty(t.fibers)
      yield* FiberSet.awaitEmpty(t.background)
      assert.deepStrictEqual(t.verified, [t.piece])
      yield* t.end
      yield* FiberSet.awaitEmpty(t.background)
      assert.deepStrictEqual(t.verified, [t.piece], "verified once, not again at the end")
    }).pipe(Effect.provide(layer)))
})
