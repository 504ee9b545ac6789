import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { Client } from "../src/client/index.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { FileStorage } from "../src/storage/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const clientLayer = (downloadDirectory: string) =>
  Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory }).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer))
  )

describe("download from WebTorrent", () => {
  it.live("a multi-file torrent from a WebTorrent seeder, dialled directly, is byte-identical", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      const files = { "album/a.bin": 1_500_000, "album/b.bin": 700_001, "album/sub/c.txt": 10 }
      yield* writePayload(source, files)
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "album"))
      yield* Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(torrentFile, { peers: [{ host: "127.0.0.1", port: wt.port }] })
        yield* torrent.whenComplete.pipe(Effect.timeout("60 seconds"))
        const state = yield* torrent.state.pipe((ref) => Effect.sync(() => ref.value))
        assert.strictEqual(state.wantedBytes, 2_200_011)
      }).pipe(Effect.provide(clientLayer(out), { local: true }))
      for (const path of Object.keys(files)) {
        assert.isTrue(yield* sameFile(join(source, path), join(out, path)), path)
      }
    }))
})
