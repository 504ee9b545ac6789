/**
 * Trackerless: our client finds a seeder through the DHT alone, over real UDP on
 * 127.0.0.1 (a third DHT node is the bootstrap router; nothing leaves loopback).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { make as makeDhtNode } from "../src/dht/index.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { eventually } from "./support/waiting.ts"

describe("DHT peer discovery", () => {
  it.live("a leecher with no tracker and no peers finds the seeder through the DHT", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "dhtdata/x.bin": 600_000 })
      const { torrent, metainfo } = yield* createTorrent(join(dir, "seed", "dhtdata"), { pieceLength: 32768 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const router = yield* makeDhtNode({ bind: { host: "127.0.0.1", port: 0 }, bootstrap: [] }).pipe(
        Effect.provide(Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer))
      )
      const bootstrap = `127.0.0.1:${router.address.port}`
      const seeder = yield* startNodeClient(join(dir, "seed"), { dht: { bootstrap: [bootstrap] } })
      const seeding = yield* seeder.add(torrent)
      yield* seeding.whenComplete
      const infoHash = metainfo.infoHash ?? new Uint8Array(20)
      // Wait until the seeder's announce reached the router.
      yield* eventually("the seeder's announce to reach the router", router.storedPeers(infoHash), (peers) => peers.length > 0, 30)
      const leecher = yield* startNodeClient(join(dir, "leech"), { dht: { bootstrap: [bootstrap] } })
      const leeching = yield* leecher.add(torrent)
      yield* leeching.whenComplete.pipe(Effect.timeout("30 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "seed", "dhtdata", "x.bin"), join(dir, "leech", "dhtdata", "x.bin")))
    }).pipe(Effect.timeout("60 seconds")))
})
