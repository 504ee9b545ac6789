import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Layer, SubscriptionRef } from "effect"
import { join } from "node:path"
import { Client, layerNode } from "../src/client/index.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { FileStorage } from "../src/storage/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const FILES = { "album/a.bin": 1_500_000, "album/b.bin": 700_001, "album/sub/c.txt": 10 }
const WANTED_BYTES = 2_200_011

const checkIdentical = (source: string, out: string) =>
  Effect.gen(function*() {
    for (const path of Object.keys(FILES)) {
      assert.isTrue(yield* sameFile(join(source, path), join(out, path)), path)
    }
  })

describe("download from WebTorrent", () => {
  it.live("a multi-file torrent from a WebTorrent seeder, dialled directly, is byte-identical", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      yield* writePayload(source, FILES)
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "album"))
      yield* Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(torrentFile, { peers: [{ host: "127.0.0.1", port: wt.port }] })
        yield* torrent.whenComplete.pipe(Effect.timeout("60 seconds"))
        assert.strictEqual(SubscriptionRef.getUnsafe(torrent.state).wantedBytes, WANTED_BYTES)
      }).pipe(
        Effect.provide(
          Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory: out, trackers: false }).pipe(
            Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
          ),
          { local: true }
        )
      )
      yield* checkIdentical(source, out)
    }))

  for (const protocol of ["http", "udp"] as const) {
    it.live(`finds the WebTorrent seeder through a bittorrent-tracker server over ${protocol}`, () =>
      Effect.gen(function*() {
        const source = yield* tempDir()
        const out = yield* tempDir()
        yield* writePayload(source, FILES)
        const tracker = yield* bittorrentTracker
        const wt = yield* webTorrentClient
        // The seeder announces itself to the tracker; our client knows only the tracker.
        const torrentFile = yield* seed(wt.client, join(source, "album"), { announce: [tracker[protocol]] })
        yield* Effect.gen(function*() {
          const client = yield* Client
          const torrent = yield* client.add(torrentFile)
          yield* torrent.whenComplete.pipe(Effect.timeout("60 seconds"))
          const state = SubscriptionRef.getUnsafe(torrent.state)
          assert.strictEqual(state.verifiedBytes, WANTED_BYTES)
          assert.isTrue(state.trackers.some((t) => t.url === tracker[protocol] && t.ok), JSON.stringify(state.trackers))
        }).pipe(Effect.provide(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory: out }), { local: true }))
        yield* checkIdentical(source, out)
      }))
  }
})
