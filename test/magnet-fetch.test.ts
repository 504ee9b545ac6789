/**
 * Fetching a magnet link's metadata from real seeders that serve ut_metadata: WebTorrent
 * (found through x.pe or through a bittorrent-tracker server) and our own client.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { trackerSource } from "../src/client/tracker-source.ts"
import { fetchMetadata, type MetadataProgress } from "../src/magnet/index.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { toHex } from "../src/bytes.ts"
import { formatMagnet, parseMagnet, parseMetainfo } from "../src/metainfo/index.ts"
import { Network, NodeNetwork } from "../src/net/index.ts"
import { Tracker } from "../src/tracker/index.ts"
import { makePeerId } from "../src/wire/index.ts"
import { startClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const magnetFor = (infoHash: Uint8Array, extra: string) => `magnet:?xt=urn:btih:${toHex(infoHash)}${extra}`

describe("fetchMetadata from WebTorrent", () => {
  it.live("x.pe peer: the info dict arrives byte for byte, over several metadata pieces", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      // 16 KiB pieces of 20 MB: 1221 piece hashes, an info dict of two metadata pieces
      yield* writePayload(source, { "big.bin": 20_000_000 })
      const wt = yield* webTorrentClient
      const original = yield* parseMetainfo(yield* seed(wt.client, join(source, "big.bin"), { pieceLength: 16384 }))
      assert.isAbove(original.infoBytes.length, 16384)
      const infoHash = original.infoHash ?? new Uint8Array(0)
      const magnet = yield* parseMagnet(magnetFor(infoHash, `&dn=big.bin&x.pe=127.0.0.1:${wt.port}&ws=http%3A%2F%2F127.0.0.1%3A1%2Fws`))
      const seen: Array<MetadataProgress> = []
      const meta = yield* fetchMetadata(magnet, {
        peerId: yield* makePeerId(),
        sources: [],
        timeout: "30 seconds",
        onProgress: (p) => Effect.sync(() => seen.push(p))
      })
      assert.deepStrictEqual(meta.infoBytes, original.infoBytes)
      assert.deepStrictEqual(meta.infoHash, original.infoHash)
      assert.strictEqual(meta.name, "big.bin")
      assert.deepStrictEqual(meta.webSeeds, ["http://127.0.0.1:1/ws"])
      const last = seen.at(-1)
      assert.deepStrictEqual(last, { peers: 1, received: original.infoBytes.length, total: original.infoBytes.length })
      // Progress went through a partial state (one of two pieces) before the end.
      assert.isTrue(seen.some((p) => p.received > 0 && p.received < p.total), JSON.stringify(seen))
    }).pipe(Effect.provide(NodeNetwork.layer)))

  for (const protocol of ["http", "udp"] as const) {
    it.live(`tr= ${protocol} tracker only: the tracker source finds the seeder`, () =>
      Effect.gen(function*() {
        const source = yield* tempDir()
        yield* writePayload(source, { "album/a.bin": 300_000, "album/b.txt": 12 })
        const tracker = yield* bittorrentTracker
        const wt = yield* webTorrentClient
        const original = yield* parseMetainfo(yield* seed(wt.client, join(source, "album"), { announce: [tracker[protocol]] }))
        const infoHash = original.infoHash ?? new Uint8Array(0)
        const magnet = yield* parseMagnet(formatMagnet({
          infoHash,
          infoHashV2: null,
          name: null,
          trackers: [tracker[protocol]],
          webSeeds: [],
          peers: [],
          selectOnly: null
        }))
        const trackers = yield* Tracker
        const meta = yield* fetchMetadata(magnet, {
          peerId: yield* makePeerId(),
          sources: [trackerSource(trackers)],
          timeout: "30 seconds"
        })
        assert.deepStrictEqual(meta.infoBytes, original.infoBytes)
        assert.deepStrictEqual(meta.infoHash, infoHash)
        assert.deepStrictEqual(meta.trackers, [[tracker[protocol]]])
        assert.deepStrictEqual(meta.files.map((f) => f.path.join("/")), original.files.map((f) => f.path.join("/")))
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            NodeNetwork.layer,
            Tracker.layer({ udpBind: { host: "127.0.0.1", port: 0 } }).pipe(
              Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer))
            )
          ),
          { local: true }
        )
      ))
  }

  it.live("sockets are closed when the fetch ends", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      yield* writePayload(source, { "one.bin": 50_000 })
      const wt = yield* webTorrentClient
      const original = yield* parseMetainfo(yield* seed(wt.client, join(source, "one.bin")))
      const magnet = yield* parseMagnet(magnetFor(original.infoHash ?? new Uint8Array(0), `&x.pe=127.0.0.1:${wt.port}`))
      let open = 0
      let opened = 0
      const network = yield* Network
      // The real network, counting connections still open.
      const counting = Layer.succeed(Network, Network.of({
        ...network,
        connect: (address, options) =>
          network.connect(address, options).pipe(
            Effect.tap(() => Effect.sync(() => (open++, opened++))),
            Effect.tap(() => Effect.addFinalizer(() => Effect.sync(() => open--)))
          )
      }))
      const meta = yield* fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [] }).pipe(Effect.provide(counting))
      assert.deepStrictEqual(meta.infoBytes, original.infoBytes)
      assert.strictEqual(opened, 1)
      assert.strictEqual(open, 0)
    }).pipe(Effect.provide(NodeNetwork.layer)))
})

describe("fetchMetadata from our own client", () => {
  it.live("our seeder serves its info dict (x.pe), byte for byte", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "ours/a.bin": 400_000, "ours/b.bin": 3 })
      // 16 KiB pieces: 26 hashes; many files would work as well, this keeps it quick
      const { torrent, metainfo } = yield* createTorrent(join(dir, "seed", "ours"), { pieceLength: 16384 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const seeder = yield* startClient(join(dir, "seed"))
      yield* (yield* seeder.add(torrent)).whenComplete
      const magnet = yield* parseMagnet(magnetFor(metainfo.infoHash ?? new Uint8Array(0), `&x.pe=127.0.0.1:${seeder.port ?? 0}`))
      const meta = yield* fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [], timeout: "20 seconds" })
      assert.deepStrictEqual(meta.infoBytes, metainfo.infoBytes)
      assert.deepStrictEqual(meta.infoHash, metainfo.infoHash)
    }).pipe(Effect.provide(NodeNetwork.layer)))

  it.live("a seeder that requires encryption: the default fetch (prefer) gets the info dict over MSE; a plaintext-only fetch cannot", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "enc/a.bin": 300_000 })
      const { torrent, metainfo } = yield* createTorrent(join(dir, "seed", "enc"), { pieceLength: 16384 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const seeder = yield* startClient(join(dir, "seed"), { encryption: "require" })
      yield* (yield* seeder.add(torrent)).whenComplete
      const magnet = yield* parseMagnet(magnetFor(metainfo.infoHash ?? new Uint8Array(0), `&x.pe=127.0.0.1:${seeder.port ?? 0}`))
      const meta = yield* fetchMetadata(magnet, { peerId: yield* makePeerId(), sources: [], timeout: "20 seconds" })
      assert.deepStrictEqual(meta.infoBytes, metainfo.infoBytes)
      // the same seeder refuses a plaintext handshake: the fetch above did speak MSE
      const refused = yield* Effect.flip(fetchMetadata(magnet, {
        peerId: yield* makePeerId(),
        sources: [],
        timeout: "20 seconds",
        encryption: "disable"
      }))
      assert.strictEqual(refused.reason, "NoPeers")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})
