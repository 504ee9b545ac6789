/**
 * A peer that handshakes, advertises everything, unchokes, and then never answers a
 * request. With `requestTimeoutMillis: 2000` its requests time out (only then does the client
 * ask it for more), the blocks go to an honest peer and the download completes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { awaitComplete, recordEvents, startClient, waitUntil } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { type BlockRequest, hasBlock, type LoggedRequest, scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"

const PIECE = 32 * 1024
const REQUEST_TIMEOUT = 2000

/** Requests that came after the first batch (the pipeline the client filled on unchoke). */
const afterFirstBatch = (requests: ReadonlyArray<LoggedRequest>) => {
  const first = requests[0]
  return first === undefined ? [] : requests.filter((r) => r.at > first.at + 500)
}

describe("failure: peer never answers requests", () => {
  it.live("requests time out and are released (only then is the peer asked for more); an honest peer completes it byte-identical", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "payload", { "data.bin": 900_000 }, PIECE)
      const mute = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE, answer: () => false })
      const honest = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE })

      const client = yield* startClient(out, { session: { requestTimeoutMillis: REQUEST_TIMEOUT } })
      const torrent = yield* client.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      yield* torrent.addPeers([mute.address])

      // Alone with the mute peer, no block ever arrives, so the pipeline cannot grow: the only
      // way the client asks for more is that its first requests timed out and were released.
      yield* waitUntil("requests beyond the first batch", () => afterFirstBatch(mute.requests()).length > 0, 6)
      const first = mute.requests()[0]
      const next = afterFirstBatch(mute.requests())[0]
      if (first === undefined || next === undefined) return yield* Effect.die(new Error("unreachable"))
      const waited = next.at - first.at
      assert.isAtLeast(waited, REQUEST_TIMEOUT - 50, "the client asked for more before its requests timed out")
      assert.isBelow(waited, REQUEST_TIMEOUT + 1500, "the request timeout fired late (the ticker runs every second)")
      const stuck: ReadonlyArray<BlockRequest> = mute.requests().filter((r) => r.at <= first.at + 500)
      assert.isAbove(stuck.length, 0)
      assert.strictEqual(mute.blocksSent().length, 0)
      assert.strictEqual(log.all().filter((e) => e._tag === "PieceVerified").length, 0)

      yield* torrent.addPeers([honest.address])
      yield* awaitComplete(torrent, log)

      for (const block of stuck) {
        assert.isTrue(hasBlock(honest.requests(), block), `block ${block.piece}:${block.begin} never went to the honest peer`)
      }
      assert.strictEqual(mute.connections(), 1)
      assert.isFalse(
        log.all().some((e) => e._tag === "PeerDisconnected" && e.peer === honest.key),
        "the honest peer was dropped"
      )
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
    }))
})
