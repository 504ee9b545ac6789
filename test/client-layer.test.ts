/**
 * The client's layer types say what it needs, and its errors say why it failed. The
 * `@ts-expect-error` lines are checked by `tsc` (npm test runs it first): each fails the
 * build if the type stops refusing what it must refuse.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Context, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Client, type ClientError, layerNode } from "../src/client/index.ts"
import { parseMetainfo } from "../src/metainfo/index.ts"
import { toHex } from "../src/bytes.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { FileStorage } from "../src/storage/index.ts"
import { content, singleInfo, torrent, v2Torrent } from "./metainfo-helpers.ts"

const files = Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer)))

// Compile-time: a public layer has a real error channel, and a feature is never turned off by a missing layer.
export const typeChecks = () => {
  const node: Layer.Layer<Client, ClientError> = layerNode({ port: 0 })
  const withoutTrackers: Layer.Layer<Client, ClientError> = Client.layer({ port: 0, trackers: false }).pipe(Layer.provide(files))
  // @ts-expect-error trackers are on by default: without a Tracker layer the requirement stays
  const forgotTracker: Layer.Layer<Client, ClientError> = Client.layer({ port: 0 }).pipe(Layer.provide(files))
  // @ts-expect-error a configured DHT needs a Dht layer
  const forgotDht: Layer.Layer<Client, ClientError> = Client.layer({ port: 0, trackers: false, dht: {} }).pipe(Layer.provide(files))
  // @ts-expect-error the file system is not optional either (add({ path }) reads through it)
  const forgotFs: Layer.Layer<Client, ClientError> = Client.layer({ port: 0, trackers: false }).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))))
  )
  // @ts-expect-error web seeds are on by default: without an HttpClient layer the requirement stays
  const forgotHttp: Layer.Layer<Client, ClientError> = Client.layer({ port: 0, trackers: false }).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
  )
  const withoutWebSeeds: Layer.Layer<Client, ClientError> = Client.layer({ port: 0, trackers: false, webSeeds: false }).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
  )
  return [node, withoutTrackers, forgotTracker, forgotDht, forgotFs, forgotHttp, withoutWebSeeds]
}

describe("client errors say why", () => {
  it.live("a v2-only torrent without its piece layers and no peer to ask for them is NoMetadata, a file that is not a torrent is BadTorrent, a missing one Unreadable", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "et-client-"))
      const context = yield* Layer.build(Layer.fresh(
        Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory: dir, trackers: false }).pipe(Layer.provide(files))
      ))
      const client = Context.get(context, Client)
      const { info, layers } = v2Torrent([{ path: ["a.bin"], data: content(40_000, 1) }], 16384, false, "a.bin")
      const v2 = yield* parseMetainfo(torrent(info))
      const reasons = yield* Effect.forEach(
        [v2, new TextEncoder().encode("not bencode"), { path: join(dir, "missing.torrent") }] as const,
        (source) => client.add(source).pipe(Effect.flip)
      )
      assert.deepStrictEqual(reasons.map((e) => e.reason), ["NoMetadata", "BadTorrent", "Unreadable"])
      // the layers would come from peers (BEP 52 hash requests): with no peer and no source, at once
      assert.include(reasons[0]?.message, "piece layers of this v2 torrent are missing")
      // and a v1 torrent is fine, and so is the v2 one with its piece layers, named by its truncated SHA-256
      const ok = yield* client.add(torrent(singleInfo(40_000)))
      assert.strictEqual(ok.infoHash.length, 40)
      const full = yield* parseMetainfo(torrent(info, { "piece layers": layers }))
      const added = yield* client.add(full)
      assert.strictEqual(added.infoHash, toHex(full.infoHashV2 ?? new Uint8Array()).slice(0, 40))
    }))
})
