/**
 * A peer that sends a corrupt piece: the hash check fails (HashFailed names the peer),
 * the peer is banned (PeerBanned) and never dialled again, even when the address is
 * announced again; the piece is downloaded again from an honest seeder (our own client
 * seeding the real data), and the result is byte-identical.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { awaitComplete, currentState, recordEvents, startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"

const PIECE = 32 * 1024

describe("failure: corrupt piece", () => {
  it.live("hash fails, the sender is banned and not redialled, the piece comes again from an honest seeder", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "payload", { "x.bin": 400_000, "y/z.bin": 123_457 }, PIECE)
      const pieceCount = fixture.metainfo.pieceCount
      // Corrupt one piece in the middle; the liar serves everything else honestly.
      const bad = Math.floor(pieceCount / 2)
      const liar = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE, corruptPieces: [bad] })

      const seeder = yield* startClient(source)
      const seeded = yield* seeder.add(fixture.torrent)
      yield* seeded.whenComplete.pipe(Effect.timeout("5 seconds"))
      const seederPort = seeder.port
      if (seederPort === null) return yield* Effect.die(new Error("the seeder does not listen"))

      const client = yield* startClient(out)
      const torrent = yield* client.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      yield* torrent.addPeers([liar.address])

      const failed = yield* log.waitFor("HashFailed", (e) => e._tag === "HashFailed")
      assert.strictEqual(failed._tag === "HashFailed" ? failed.piece : -1, bad)
      assert.deepStrictEqual(failed._tag === "HashFailed" ? failed.peers : [], [liar.key])
      const ended = yield* log.waitFor("the liar's session to end", (e) => e._tag === "PeerDisconnected" && e.peer === liar.key)
      assert.match(ended._tag === "PeerDisconnected" ? ended.reason : "", /failed the hash check of piece/)
      const banned = yield* log.waitFor("PeerBanned", (e) => e._tag === "PeerBanned", "3 seconds")
      assert.strictEqual(banned._tag === "PeerBanned" ? banned.peer : "", liar.key)
      assert.isTrue(liar.blocksSent().some((b) => b.piece === bad), "the liar did send the corrupt piece")

      // Announce the liar again along with the honest seeder: only the seeder is new to the
      // peer book (the event says how many addresses it took, at once), so only it can be dialled.
      const earlier = new Set(log.all())
      yield* torrent.addPeers([liar.address, { host: "127.0.0.1", port: seederPort }])
      const discovered = yield* log.waitFor("the re-announce", (e) => e._tag === "PeersDiscovered" && !earlier.has(e))
      assert.deepStrictEqual(discovered, { _tag: "PeersDiscovered", source: "manual", count: 1 }, "the banned liar was taken back")
      yield* awaitComplete(torrent, log)
      assert.strictEqual(liar.connections(), 1, "a banned peer was dialled again")

      const events = log.all()
      const failedAt = events.indexOf(failed)
      const verifiedAt = events.findIndex((e) => e._tag === "PieceVerified" && e.piece === bad)
      assert.isAbove(verifiedAt, failedAt, `piece ${bad} is verified after its hash failure`)
      assert.strictEqual(events.filter((e) => e._tag === "PieceVerified" && e.piece === bad).length, 1)
      assert.strictEqual(events.filter((e) => e._tag === "HashFailed").length, 1)
      assert.isTrue(events.some((e) => e._tag === "Completed"))
      const state = yield* currentState(torrent)
      assert.strictEqual(state.piecesVerified, pieceCount)
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
    }))
})
