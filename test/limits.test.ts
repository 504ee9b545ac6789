/**
 * Connection limits: per torrent, across the client, and on attempts in progress
 * (half-open), with real scripted peers on 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { createServer, type Socket } from "node:net"
import { awaitComplete, recordEvents, startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"

const PIECE = 32 * 1024

/** A listener that accepts TCP connections and never says a word: every attempt to it stays half-open. */
const silentListener = Effect.acquireRelease(
  Effect.callback<{ port: number; accepted: () => number; close: () => void }>((resume) => {
    const sockets: Array<Socket> = []
    const server = createServer((socket) => sockets.push(socket))
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ port, accepted: () => sockets.length, close: () => { for (const s of sockets) s.destroy(); server.close() } }))
    })
  }),
  (l) => Effect.sync(() => l.close())
)

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
      let most = 0
      const watcher = yield* Effect.forkChild(Effect.forever(Effect.gen(function*() {
        most = Math.max(most, (yield* torrent.peers).length)
        yield* Effect.sleep("20 millis")
      })))
      yield* awaitComplete(torrent, log, "30 seconds")
      yield* Fiber.interrupt(watcher)
      assert.isAtMost(most, 2)
      assert.isAtLeast(most, 1)
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
    }))

  it.live("attempts in progress are capped by maxHalfOpen", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "half", { "a.bin": 100_000 }, PIECE)
      const silent = yield* Effect.forEach([1, 2, 3, 4, 5, 6, 7, 8], () => silentListener)
      const client = yield* startClient(out, { maxHalfOpen: 3, handshakeTimeoutMillis: 60_000 })
      const torrent = yield* client.add(fixture.torrent)
      yield* torrent.addPeers(silent.map((s) => ({ host: "127.0.0.1", port: s.port })))
      // The dialler wakes every 500 ms: give it a few rounds.
      yield* Effect.sleep("2 seconds")
      const accepted = silent.reduce((n, s) => n + s.accepted(), 0)
      assert.strictEqual(accepted, 3, "three handshakes hang; the others wait for a free half-open slot")
    }))

  it.live("the client-wide cap applies across torrents", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const a = yield* makeTorrent(source, "ta", { "a.bin": 300_000 }, PIECE)
      const b = yield* makeTorrent(source, "tb", { "b.bin": 300_000 }, PIECE)
      const silentA = yield* Effect.forEach([1, 2, 3], () => scriptedPeer({ infoHash: a.infoHash, data: a.data, pieceLength: PIECE, choke: true }))
      const silentB = yield* Effect.forEach([1, 2, 3], () => scriptedPeer({ infoHash: b.infoHash, data: b.data, pieceLength: PIECE, choke: true }))
      const client = yield* startClient(out, { maxPeers: 4, maxPeersPerTorrent: 3 })
      const ta = yield* client.add(a.torrent)
      const tb = yield* client.add(b.torrent)
      yield* ta.addPeers(silentA.map((p) => p.address))
      yield* tb.addPeers(silentB.map((p) => p.address))
      yield* Effect.sleep("2 seconds")
      const total = (yield* ta.peers).length + (yield* tb.peers).length
      assert.strictEqual(total, 4, "six peers offered, four connections allowed in all")
    }))
})
