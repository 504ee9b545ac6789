/**
 * The sending side of a peer session (src/peer/outbox.ts), over a real TCP connection on
 * 127.0.0.1 with real torrent storage: messages leave in order at the end of the turn,
 * uploads follow them in request order, a peer that stops reading fills first the send
 * buffer and then the bounded queue (where our own messages are refused and the session
 * ends, while replies wait for room), and a stopped outbox writes nothing more.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, FiberSet, Result } from "effect"
import { peerKey, PieceIndex } from "../src/ids.ts"
import { type Connection, Network, NodeNetwork } from "../src/net/index.ts"
import { PeerError } from "../src/peer/index.ts"
import { makeOutbox, type OutboxTorrent } from "../src/peer/outbox.ts"
import { makeSessionState } from "../src/peer/session-state.ts"
import { makeAdjustableThrottle, makeLimiter, unlimited } from "../src/ratelimit/index.ts"
import { makeMemoryStorage } from "../src/storage/index.ts"
import { decodeFrame, makeFramer, type Message } from "../src/wire/index.ts"
import { tempDir } from "./support/files.ts"
import { messageReader, readMessages } from "./support/live-session.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { waitUntil } from "./support/waiting.ts"

const PIECE = 32 * 1024
const BLOCK = 16 * 1024

/** A connected pair on loopback: `ours` is the session's end, `peer` the other. */
const connectedPair = Effect.gen(function*() {
  const net = yield* Network
  const listener = yield* net.listen({ host: "127.0.0.1", port: 0 })
  const ours = yield* net.connect(listener.address)
  const peer = yield* listener.accept
  return { ours, peer }
})

/** A torrent's verified data in memory storage, and what the outbox was told it uploaded. */
const seededTorrent = Effect.gen(function*() {
  const fixture = yield* makeTorrent(yield* tempDir(), "payload", { "a.bin": 3 * PIECE + 1000 }, PIECE)
  const storage = yield* makeMemoryStorage().open(fixture.metainfo, { directory: "/outbox-test" })
  for (let piece = 0; piece < fixture.metainfo.pieceCount; piece++) {
    const start = piece * PIECE
    const put = yield* storage.putBlock(PieceIndex(piece), 0, fixture.data.subarray(start, Math.min(start + PIECE, fixture.data.length)))
    assert.strictEqual(put._tag, "Verified")
  }
  const uploaded: Array<number> = []
  const torrent: OutboxTorrent = { storage, uploadThrottle: unlimited, onUploaded: (n) => void uploaded.push(n) }
  return { fixture, torrent, uploaded }
})

const outboxOn = (ours: Connection, torrent: OutboxTorrent, fast = true) =>
  Effect.gen(function*() {
    const s = makeSessionState(peerKey({ host: "127.0.0.1", port: 1 }), ours, fast, "test", 0, 250, 4)
    // the writer fibers the outbox forks, as the session runs them: the first failure is the set's
    const writers = yield* FiberSet.make<void, PeerError>()
    const fork = yield* FiberSet.runtime(writers)<never>()
    const outbox = yield* makeOutbox(s, ours, torrent, () => 0, (e) => new PeerError({ reason: "Network", peer: s.key, detail: e.message }), (writer) => void fork(writer))
    return { s, outbox, writers }
  })

describe("peer outbox", () => {
  it.live("messages leave in the order they were sent, at the end of the turn", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      const { outbox } = yield* outboxOn(ours, torrent)
      const sent: ReadonlyArray<Message> = [{ _tag: "Interested" }, { _tag: "Have", index: 2 }, { _tag: "Unchoke" }, { _tag: "KeepAlive" }]
      for (const m of sent) assert.isTrue(outbox.send(m))
      assert.deepStrictEqual(yield* readMessages(peer, sent.length), sent)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("uploads follow the messages queued before them, in request order, with the torrent's bytes", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { fixture, torrent, uploaded } = yield* seededTorrent
      const { s, outbox } = yield* outboxOn(ours, torrent)
      const blocks = [{ piece: PieceIndex(1), begin: BLOCK, length: BLOCK }, { piece: PieceIndex(0), begin: 0, length: BLOCK }, { piece: PieceIndex(3), begin: 0, length: 1000 }]
      assert.isTrue(outbox.send({ _tag: "Unchoke" }))
      for (const b of blocks) s.uploads.set(`${b.piece}:${b.begin}`, b)
      outbox.uploadsAdded()
      const got = yield* readMessages(peer, 1 + blocks.length)
      assert.deepStrictEqual(got[0], { _tag: "Unchoke" })
      got.slice(1).forEach((m, i) => {
        const b = blocks[i]
        if (m._tag !== "Piece" || b === undefined) return assert.fail(`expected a piece, got ${m._tag}`)
        assert.deepStrictEqual({ piece: m.index, begin: m.begin, length: m.block.length }, b)
        const start = b.piece * PIECE + b.begin
        assert.deepStrictEqual(m.block, fixture.data.subarray(start, start + b.length))
      })
      assert.strictEqual(s.uploads.size, 0, "the queue is empty once served")
      assert.deepStrictEqual(uploaded, blocks.map((b) => b.length))
      assert.strictEqual(s.stats.uploaded, 2 * BLOCK + 1000)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("with an adjustable throttle and no limit in force, uploads are served in the flush, in one write", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      // A client's throttles are adjustable (the daemon's limits), never the `unlimited` object.
      const throttle = makeAdjustableThrottle(yield* makeLimiter, "up", null)
      // The real connection, with its writes counted (blocks per write).
      const perWrite: Array<number> = []
      const counted: Connection = Object.assign(Object.create(ours), {
        offer: (chunks: ReadonlyArray<Uint8Array>, written?: () => void) => {
          perWrite.push(chunks.filter((c) => c.length === BLOCK).length)
          return ours.offer(chunks, written)
        }
      })
      const { s, outbox } = yield* outboxOn(counted, { ...torrent, uploadThrottle: throttle })
      const blocks = [0, 1, 2].flatMap((piece) => [0, BLOCK].map((begin) => ({ piece: PieceIndex(piece), begin, length: BLOCK })))
      for (const b of blocks) s.uploads.set(`${b.piece}:${b.begin}`, b)
      outbox.uploadsAdded()
      const got = yield* readMessages(peer, blocks.length)
      assert.deepStrictEqual(got.map((m) => m._tag === "Piece" ? `${m.index}:${m.begin}` : m._tag), blocks.map((b) => `${b.piece}:${b.begin}`))
      assert.deepStrictEqual(perWrite, [blocks.length])
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a lazy message waits for the next write, or for flushLazy", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      const writes: Array<number> = []
      const counted: Connection = Object.assign(Object.create(ours), {
        offer: (chunks: ReadonlyArray<Uint8Array>, written?: () => void) => {
          writes.push(chunks.length)
          return ours.offer(chunks, written)
        }
      })
      const { outbox } = yield* outboxOn(counted, torrent)
      const read = messageReader(peer)
      assert.isTrue(outbox.sendLazily({ _tag: "Have", index: 1 }))
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(writes, [], "a lazy message was written on its own")
      // The next message takes it along, ahead of itself, in one write.
      assert.isTrue(outbox.send({ _tag: "Interested" }))
      assert.deepStrictEqual(yield* read(2), [{ _tag: "Have", index: 1 }, { _tag: "Interested" }])
      assert.strictEqual(writes.length, 1)
      // Nothing else to send: the tick's flushLazy writes it.
      assert.isTrue(outbox.sendLazily({ _tag: "Have", index: 2 }))
      outbox.flushLazy()
      assert.deepStrictEqual(yield* read(1), [{ _tag: "Have", index: 2 }])
      // With nothing lazy left, flushLazy writes nothing.
      outbox.flushLazy()
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow
      assert.strictEqual(writes.length, 2)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a peer that stops reading: the send buffer fills, then the queue refuses our messages; replies wait for room", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      const { outbox } = yield* outboxOn(ours, torrent)
      // Nobody reads. 64 KiB bitfields, a batch per turn, until the send buffer is full; then
      // small messages, which now wait in the queue, until the outbox refuses one.
      const big: Message = { _tag: "Bitfield", bits: new Uint8Array(64 * 1024).fill(0xaa) }
      let accepted = 0
      while (ours.offer([])) {
        for (let i = 0; i < 16; i++) assert.isTrue(outbox.send(big))
        accepted += 16
        yield* Effect.yieldNow
        assert.isBelow(accepted, 10_000, "the send buffer never filled")
      }
      let queued = 0
      while (outbox.send({ _tag: "Have", index: queued % 4 })) {
        queued++
        assert.isBelow(queued, 100_000, "the outbox never refused a message")
      }
      accepted += queued
      assert.isFalse(ours.offer([]), "the queue filled only behind a full send buffer")
      assert.strictEqual(queued, 4096, "the queue holds 4096 messages")
      // A reply the peer's own traffic provoked waits for room instead of being refused.
      let peerRead = 0
      const reply = yield* Effect.forkChild(outbox.reply({ _tag: "Reject", index: 0, begin: 0, length: BLOCK }).pipe(Effect.map(() => peerRead)))
      yield* Effect.yieldNow
      assert.isUndefined(reply.pollUnsafe(), "a reply went through a full queue")
      // The peer reads again: every accepted message arrives, in order, then the reply.
      const framer = makeFramer()
      let messages = 0
      let last: Message | undefined
      while (messages < accepted + 1) {
        framer.push(yield* peer.read)
        for (let next = framer.next(); ; next = framer.next()) {
          if (Result.isFailure(next) || next.success === undefined) break
          const m = decodeFrame(next.success)
          if (Result.isFailure(m)) return assert.fail(m.failure.message)
          last = m.success
          messages++
          peerRead = messages
        }
      }
      assert.strictEqual(messages, accepted + 1)
      assert.deepStrictEqual(last, { _tag: "Reject", index: 0, begin: 0, length: BLOCK })
      assert.isAbove(yield* Fiber.join(reply), 0, "the reply got room only once the peer read")
      assert.isTrue(outbox.send({ _tag: "KeepAlive" }), "with room again, messages are taken")
    }).pipe(Effect.provide(NodeNetwork.layer)), 60_000)

  it.live("once stopped, nothing more is written", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      const { outbox } = yield* outboxOn(ours, torrent)
      assert.isTrue(outbox.send({ _tag: "Have", index: 1 }))
      assert.deepStrictEqual(yield* readMessages(peer, 1), [{ _tag: "Have", index: 1 }])
      outbox.stop()
      outbox.send({ _tag: "Have", index: 2 })
      outbox.send({ _tag: "Have", index: 3 })
      // Our end closes (FIN after anything pending): the peer reads to the end and gets nothing more.
      yield* Effect.yieldNow
      yield* ours.close
      const rest = yield* peer.read.pipe(Effect.flip)
      assert.strictEqual(rest._tag, "ConnectionClosed", "bytes arrived after stop")
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a connection that fails ends the writer with a Network error", () =>
    Effect.gen(function*() {
      const { ours, peer } = yield* connectedPair
      const { torrent } = yield* seededTorrent
      const { outbox, writers } = yield* outboxOn(ours, torrent)
      // Fill the send buffer so the writer waits on it, then the peer goes away.
      const big: Message = { _tag: "Bitfield", bits: new Uint8Array(256 * 1024) }
      for (let i = 0; i < 64; i++) outbox.send(big)
      yield* waitUntil("the send buffer to fill", () => !ours.offer([]))
      yield* peer.close
      const error = yield* FiberSet.join(writers).pipe(Effect.flip)
      assert.strictEqual(error.reason, "Network")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
