/**
 * Connection limits: per torrent, across the client, and on attempts in progress
 * (half-open), with real scripted peers on 127.0.0.1.
 *
 * "No more than n" is shown on virtual time (it.effect: the TestClock stands still until
 * adjusted): after the dialler has had many rounds of virtual time, the peer book says no
 * further address was handed out (its `candidates` count), and a freed slot is refilled
 * at once, so the limit, not slowness, held the others back.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, SubscriptionRef } from "effect"
import { TestClock } from "effect/testing"
import { createServer, type Socket } from "node:net"
import type { Torrent, TorrentEvent } from "../src/torrent/index.ts"
import { awaitComplete, recordEvents, startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"
import { eventually, waitUntil } from "./support/waiting.ts"

const PIECE = 32 * 1024

/** A listener that accepts TCP connections and never says a word: every attempt to it stays half-open. */
const silentListener = Effect.acquireRelease(
  Effect.callback<{ port: number; accepted: () => number; drop: () => void; close: () => void }>((resume) => {
    const sockets: Array<Socket> = []
    const server = createServer((socket) => sockets.push(socket))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({
        port,
        accepted: () => sockets.length,
        drop: () => sockets[0]?.destroy(),
        close: () => {
          for (const s of sockets) s.destroy()
          server.close()
        }
      }))
    })
  }),
  (l) => Effect.sync(() => l.close())
)

/** Most sessions open at once, from the event log (connected, not yet disconnected). */
const mostAtOnce = (events: ReadonlyArray<TorrentEvent>): number => {
  const open = new Set<string>()
  let most = 0
  for (const e of events) {
    if (e._tag === "PeerConnected") open.add(e.peer)
    else if (e._tag === "PeerDisconnected") open.delete(e.peer)
    most = Math.max(most, open.size)
  }
  return most
}

/** The torrent's state as published after the next housekeeping second (virtual). */
const stateAfterTick = (torrent: Torrent) =>
  TestClock.adjust("1 second").pipe(Effect.andThen(SubscriptionRef.get(torrent.state)))

describe("connection limits", () => {
  it.live("never more peers per torrent than maxPeersPerTorrent, and the download still completes", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "lim", { "a.bin": 900_000 }, PIECE)
      const peers = yield* Effect.forEach([1, 2, 3, 4, 5, 6], () =>
        scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE }))
      const client = yield* startClient(out, { maxPeersPerTorrent: 2 })
      const torrent = yield* client.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      yield* torrent.addPeers(peers.map((p) => p.address))
      yield* awaitComplete(torrent, log, "30 seconds")
      // Every session's start and end is an event, in order: the count at any moment is exact.
      const most = mostAtOnce(log.all())
      assert.isAtMost(most, 2)
      assert.isAtLeast(most, 1)
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
    }))

  it.effect("attempts in progress are capped by maxHalfOpen", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "half", { "a.bin": 100_000 }, PIECE)
      const silent = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], () => silentListener)
      const accepted = () => silent.reduce((n, s) => n + s.accepted(), 0)
      // The silent listeners speak TCP only, and the clock is virtual: no uTP attempt first
      // (its 1 s fallback would wait for the test to move the clock).
      const client = yield* startClient(out, { maxHalfOpen: 3, handshakeTimeoutMillis: 60_000, connectTimeoutMillis: 60_000, transports: ["tcp"] })
      const torrent = yield* client.add(fixture.torrent)
      yield* torrent.addPeers(silent.map((s) => ({ host: "127.0.0.1", port: s.port })))
      yield* TestClock.adjust("1 second")
      yield* waitUntil("three connections to be accepted", () => accepted() === 3)
      // Twenty seconds of dialler rounds (the handshakes hang until 60 s): nobody else is dialled.
      yield* TestClock.adjust("20 seconds")
      const state = yield* stateAfterTick(torrent)
      assert.strictEqual(state.candidates, 5, "three handshakes hang; the other five addresses wait for a free half-open slot")
      assert.strictEqual(accepted(), 3)
      // A hanging attempt fails: its slot goes to the next address at once.
      const hung = silent.find((s) => s.accepted() > 0)
      if (hung === undefined) return assert.fail("no listener accepted")
      hung.drop()
      yield* eventually("the freed slot to go to a fifth address", TestClock.adjust("500 millis").pipe(Effect.map(accepted)), (n) => n === 4)
      // The failed address waits for its backoff; four are still waiting for a slot.
      assert.strictEqual((yield* stateAfterTick(torrent)).candidates, 5)
    }))

  it.effect("the client-wide cap applies across torrents", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const a = yield* makeTorrent(source, "ta", { "a.bin": 300_000 }, PIECE)
      const b = yield* makeTorrent(source, "tb", { "b.bin": 300_000 }, PIECE)
      const silentA = yield* Effect.forEach([1, 2, 3], () => scriptedPeer({ infoHash: a.infoHash, data: a.data, pieceLength: PIECE, choke: true }))
      const silentB = yield* Effect.forEach([1, 2, 3], () => scriptedPeer({ infoHash: b.infoHash, data: b.data, pieceLength: PIECE, choke: true }))
      // scripted peers speak TCP only (see above)
      const client = yield* startClient(out, { maxPeers: 4, maxPeersPerTorrent: 3, transports: ["tcp"] })
      const ta = yield* client.add(a.torrent)
      const tb = yield* client.add(b.torrent)
      yield* ta.addPeers(silentA.map((p) => p.address))
      yield* tb.addPeers(silentB.map((p) => p.address))
      yield* TestClock.adjust("1 second")
      const connected = Effect.zipWith(ta.peers, tb.peers, (x, y) => x.length + y.length)
      yield* eventually("four sessions", connected, (n) => n === 4)
      // Twenty seconds of dialler rounds later, the two other addresses are still waiting.
      yield* TestClock.adjust("20 seconds")
      const waiting = (yield* stateAfterTick(ta)).candidates + (yield* SubscriptionRef.get(tb.state)).candidates
      assert.strictEqual(waiting, 2, "six peers offered, four connections allowed in all")
      assert.strictEqual(yield* connected, 4)
      const handshakes = [...silentA, ...silentB].reduce((n, p) => n + p.connections(), 0)
      assert.strictEqual(handshakes, 4)
    }))
})
