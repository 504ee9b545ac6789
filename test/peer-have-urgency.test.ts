/**
 * Which `have`s a session sends at once and which wait (src/peer/peer-session.ts
 * `pieceVerified`): a peer we choke that is interested in us cannot request the piece
 * before we unchoke it, so its `have` waits for our next write to it or the session's tick;
 * a peer we serve, or one not interested in us, gets it at once; a peer that has the piece
 * gets none.
 *
 * Deterministic: the session is the real one, its outbox over a real TCP connection on
 * 127.0.0.1 whose writes are counted; the other end reads what arrives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, FiberSet, Result } from "effect"
import { type PeerKey, peerKey, PieceIndex } from "../src/ids.ts"
import { type Connection, Network, NodeNetwork } from "../src/net/index.ts"
import type { PeerError } from "../src/peer/index.ts"
import { makePicker } from "../src/scheduler/index.ts"
import { makeMemoryStorage } from "../src/storage/index.ts"
import { Bitfield, encodeMessages } from "../src/wire/index.ts"
import { tempDir } from "./support/files.ts"
import { liveSession, messageReader } from "./support/live-session.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { testTorrentLink } from "./support/torrent-link.ts"

const PIECE = 32 * 1024
const KEY = peerKey({ host: "127.0.0.1", port: 6881 })

/** A session on a 5-piece torrent we have none of, and the other end of its connection; its writes are counted. */
const session = Effect.gen(function*() {
  const net = yield* Network
  const listener = yield* net.listen({ host: "127.0.0.1", port: 0 })
  const real = yield* net.connect(listener.address)
  const peer = yield* listener.accept
  let writes = 0
  const ours: Connection = Object.assign(Object.create(real), {
    offer: (chunks: ReadonlyArray<Uint8Array>, written?: () => void) => {
      writes++
      return real.offer(chunks, written)
    }
  })
  const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 5 * PIECE }, PIECE)
  const meta = fixture.metainfo
  const storage = yield* makeMemoryStorage().open(meta, { directory: "/have-urgency" })
  const picker = makePicker<PeerKey>({ pieceCount: meta.pieceCount, pieceLength: meta.pieceLength, totalSize: meta.totalSize, have: Bitfield.make(meta.pieceCount).bytes })
  if (Result.isFailure(picker)) return yield* Effect.die(new Error(picker.failure))
  const torrent = testTorrentLink(fixture, picker.success, storage, {})
  const fibers = yield* FiberSet.make<void, PeerError>()
  const { s, session: live } = yield* liveSession(KEY, ours, torrent, yield* FiberSet.runtime(fibers)<never>())
  picker.success.peerHasNone(KEY)
  const read = messageReader(peer)
  /** Lets the session's end-of-turn flushes run. */
  const turns = Effect.gen(function*() {
    for (let i = 0; i < 5; i++) yield* Effect.yieldNow
  })
  /** A piece verified, told to the picker and then to the session, as the torrent does. */
  const verify = (piece: number) => {
    picker.success.pieceVerified(PieceIndex(piece))
    live.pieceVerified(piece)
  }
  return { live, s, read, turns, verify, writes: () => writes }
})

describe("have urgency", () => {
  it.live("a peer we choke that is interested in us gets its have with the tick; served or uninterested peers at once; none if it has the piece", () =>
    Effect.gen(function*() {
      const t = yield* session
      // The peer has piece 4 and is interested in us; we choke it (a session starts choking).
      assert.isTrue(t.live.onChunk(encodeMessages([{ _tag: "Have", index: 4 }, { _tag: "Interested" }])))
      // We want its piece 4: that message goes at once.
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "Interested" }])
      const before = t.writes()
      t.verify(0)
      yield* t.turns
      assert.strictEqual(t.writes(), before, "a have to a choked, interested peer was written at once")
      t.live.tick()
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "Have", index: 0 }])
      // One that waits rides ahead of our next message, in the order queued.
      t.verify(1)
      t.live.setChoked(false)
      assert.deepStrictEqual(yield* t.read(2), [{ _tag: "Have", index: 1 }, { _tag: "Unchoke" }])
      // A peer we serve gets it at once.
      t.verify(2)
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "Have", index: 2 }])
      // A peer not interested in us, choked, gets it at once (it may become interested).
      t.live.setChoked(true)
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "Choke" }])
      assert.isTrue(t.live.onChunk(encodeMessages([{ _tag: "NotInterested" }])))
      t.verify(3)
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "Have", index: 3 }])
      // Piece 4, which the peer has: no have, and we are no longer interested in it.
      t.verify(4)
      assert.deepStrictEqual(yield* t.read(1), [{ _tag: "NotInterested" }])
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
