/**
 * A peer that drops the connection in the middle of a piece: the blocks it was asked for
 * and never sent go back to the picker and are requested from another peer; the blocks it
 * did send are kept; the download completes byte-identical.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { awaitComplete, recordEvents, startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { type BlockRequest, hasBlock, scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"

const PIECE = 64 * 1024 // 4 blocks of 16 KiB

describe("failure: peer disconnects mid-piece", () => {
  it.live("unanswered blocks are requested from an honest peer; delivered ones are kept; byte-identical", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "payload", { "a.bin": 700_000, "b.bin": 333_333 }, PIECE)
      const quitter = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE, closeAfterBlocks: 3 })
      const honest = yield* scriptedPeer({ infoHash: fixture.infoHash, data: fixture.data, pieceLength: PIECE })

      const client = yield* startClient(out)
      const torrent = yield* client.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      yield* torrent.addPeers([quitter.address])
      yield* log.waitFor("the quitter to disconnect", (e) => e._tag === "PeerDisconnected" && e.peer === quitter.key)

      const asked = quitter.requests()
      const sent = quitter.blocksSent()
      assert.strictEqual(sent.length, 3, "the quitter sends exactly 3 blocks before closing")
      const unanswered: Array<BlockRequest> = asked.filter((r) => !hasBlock(sent, r))
      assert.isAbove(unanswered.length, 0, "the client had requests outstanding when the quitter left")
      // Mid-piece: some piece got blocks from the quitter and still misses others it was asked for.
      assert.isTrue(
        unanswered.some((u) => sent.some((s) => s.piece === u.piece)),
        `no piece was left half-done: asked ${JSON.stringify(asked)}, sent ${JSON.stringify(sent)}`
      )
      // Nothing verified yet: a piece needs 4 blocks and the quitter sent 3.
      assert.strictEqual(log.all().filter((e) => e._tag === "PieceVerified").length, 0)

      yield* torrent.addPeers([honest.address])
      yield* awaitComplete(torrent, log)

      const again = honest.requests()
      for (const block of unanswered) {
        assert.isTrue(hasBlock(again, block), `block ${block.piece}:${block.begin} was never requested from the honest peer`)
      }
      for (const block of sent) {
        assert.isFalse(hasBlock(again, block), `block ${block.piece}:${block.begin} was delivered already yet requested again`)
      }
      // Every byte came exactly once: from the quitter (3 blocks) or from the honest peer.
      const honestBytes = honest.blocksSent().reduce((n, b) => n + b.length, 0)
      const quitterBytes = sent.reduce((n, b) => n + b.length, 0)
      assert.strictEqual(honestBytes + quitterBytes, fixture.metainfo.totalSize)
      assert.strictEqual(quitter.connections(), 1, "the quitter is not redialled at once (it failed: backoff)")
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
      assert.deepStrictEqual([...quitter.decodeErrors(), ...honest.decodeErrors()], [])
    }))
})
