/**
 * `client.add({ magnet })`: the metadata comes from peers (BEP 9), then the data, over real
 * TCP on 127.0.0.1 — from a WebTorrent seeder named by `x.pe`, and from our own seeder found
 * through the DHT alone (no tracker, no peer in the link).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { make as makeDhtNode } from "../src/dht/index.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet, parseMetainfo } from "../src/metainfo/index.ts"
import { type Address, NodeNetwork } from "../src/net/index.ts"
import { startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"
import { eventually } from "./support/waiting.ts"

const magnetOf = (infoHash: Uint8Array | null, peers: ReadonlyArray<Address>) =>
  formatMagnet({ infoHash, infoHashV2: null, name: null, trackers: [], webSeeds: [], peers: [...peers], selectOnly: null })

describe("download from a magnet link", () => {
  it.live("metadata and data from a WebTorrent seeder given as x.pe", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "src"), { "mag/one.bin": 700_000, "mag/two.bin": 33_333 })
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(dir, "src", "mag"))
      const meta = yield* parseMetainfo(torrentFile)
      const client = yield* startNodeClient(join(dir, "out"))
      const progress: Array<number> = []
      const torrent = yield* client.add(
        { magnet: magnetOf(meta.infoHash, [{ host: "127.0.0.1", port: wt.port }]) },
        { onMetadataProgress: (p) => Effect.sync(() => progress.push(p.peers)) }
      )
      assert.deepStrictEqual(torrent.metainfo.infoBytes, meta.infoBytes, "the fetched info dict is the original, byte for byte")
      assert.isAbove(progress.length, 0)
      yield* torrent.whenComplete.pipe(Effect.timeout("60 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "src", "mag", "one.bin"), join(dir, "out", "mag", "one.bin")))
      assert.isTrue(yield* sameFile(join(dir, "src", "mag", "two.bin"), join(dir, "out", "mag", "two.bin")))
    }))

  it.live("trackerless: the DHT finds our seeder, which serves the metadata and the data", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "dhtmag/x.bin": 500_000 })
      const { torrent, metainfo } = yield* createTorrent(join(dir, "seed", "dhtmag"), { pieceLength: 32768 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const router = yield* makeDhtNode({ bind: { host: "127.0.0.1", port: 0 }, bootstrap: [] }).pipe(
        Effect.provide(Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer))
      )
      const dht = { bootstrap: [`127.0.0.1:${router.address.port}`] }
      const seeder = yield* startNodeClient(join(dir, "seed"), { dht })
      yield* (yield* seeder.add(torrent)).whenComplete
      const infoHash = metainfo.infoHash ?? new Uint8Array(20)
      yield* eventually("the seeder's announce to reach the router", router.storedPeers(infoHash), (peers) => peers.length > 0, 30)
      const leecher = yield* startNodeClient(join(dir, "leech"), { dht })
      const leeching = yield* leecher.add({ magnet: magnetOf(infoHash, []) }, { metadataTimeout: "30 seconds" })
      yield* leeching.whenComplete.pipe(Effect.timeout("30 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "seed", "dhtmag", "x.bin"), join(dir, "leech", "dhtmag", "x.bin")))
    }))
})
