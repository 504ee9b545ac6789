/**
 * A v2-only torrent from a `urn:btmh:` magnet link: the info dict comes over ut_metadata,
 * the piece layers (which it does not carry) over BEP 52 hash requests, then the data. Real
 * TCP on 127.0.0.1, our seeder and our leecher; and a peer that answers hash requests with
 * hashes that do not prove the pieces root, which is dropped, banned, and the next peer asked.
 * A hybrid magnet naming both hashes gets its piece layers the same way (our seeder answers to
 * the hybrid's truncated v2 name); a hybrid nobody can give layers to goes on with SHA-1.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Deferred, Effect, Result } from "effect"
import { randomBytes } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import * as Net from "node:net"
import { join } from "node:path"
import { toHex } from "../src/bytes.ts"
import { peerKey } from "../src/ids.ts"
import { fetchPieceLayers, missingPieceLayers } from "../src/magnet/index.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet, type Metainfo, uncleCount } from "../src/metainfo/index.ts"
import { type Address, NodeNetwork } from "../src/net/index.ts"
import { encodeHandshake, encodeMessage, makeFramer, makeReserved } from "../src/wire/index.ts"
import { startClient, startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { waitUntil } from "./support/waiting.ts"

const FILES = { "v2mag/big.bin": 9_000_000, "v2mag/mid.bin": 100_000, "v2mag/small.bin": 10_000 }

const btmh = (meta: Metainfo, peers: ReadonlyArray<Address>) =>
  formatMagnet({ infoHash: null, infoHashV2: meta.infoHashV2, name: null, trackers: [], webSeeds: [], peers: [...peers], selectOnly: null })

const layersHex = (meta: Metainfo) => [...meta.pieceLayers.entries()].map(([root, layer]) => [root, toHex(layer)]).sort()

/** Our seeder of a fresh v2-only torrent of FILES (16 KiB pieces: the big file has 550, two buckets of hashes). */
const v2Seeder = (dir: string, format: "v2" | "hybrid" = "v2") =>
  Effect.gen(function*() {
    yield* writePayload(join(dir, "seed"), FILES)
    const created = yield* createTorrent(join(dir, "seed", "v2mag"), { pieceLength: 16384, format }).pipe(Effect.provide(NodeFileSystem.layer))
    const seeder = yield* startClient(join(dir, "seed"))
    yield* (yield* seeder.add(created.torrent)).whenComplete
    return { meta: created.metainfo, address: { host: "127.0.0.1", port: seeder.port ?? 0 } }
  })

/**
 * A peer of the v2 torrent that answers every hash request at once with as many random
 * hashes as the request calls for (right count, wrong hashes). Plaintext only.
 */
const lyingPeer = (meta: Metainfo) =>
  Effect.gen(function*() {
    const log = { connections: 0, requests: 0, closed: 0 }
    const listening = yield* Deferred.make<number>()
    const server = Net.createServer((socket) => {
      log.connections++
      const framer = makeFramer()
      let greeted = false
      socket.on("close", () => void log.closed++)
      socket.on("error", () => {})
      socket.on("data", (chunk) => {
        framer.push(new Uint8Array(chunk))
        if (!greeted) {
          const hs = framer.takeHandshake()
          if (Result.isFailure(hs)) return void socket.destroy()
          if (hs.success === undefined) return
          greeted = true
          const infoHash = meta.infoHashV2?.subarray(0, 20) ?? new Uint8Array(20)
          socket.write(encodeHandshake({ infoHash, peerId: randomBytes(20), reserved: makeReserved({ v2: true }) }))
        }
        for (let m = framer.nextMessage(); Result.isSuccess(m) && m.success !== undefined; m = framer.nextMessage()) {
          if (m.success._tag !== "HashRequest") continue
          log.requests++
          const r = m.success
          socket.write(encodeMessage({ ...r, _tag: "Hashes", piecesRoot: r.piecesRoot.slice(), hashes: randomBytes(32 * (r.length + uncleCount(r))) }))
        }
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      Deferred.doneUnsafe(listening, Effect.succeed(typeof address === "object" && address !== null ? address.port : 0))
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
    return { log, address: { host: "127.0.0.1", port: yield* Deferred.await(listening) } }
  })

describe("v2 magnet: piece layers from peers (BEP 52 hash requests)", () => {
  it.live("our leecher downloads a v2-only torrent from a btmh magnet served by our seeder, byte-identical", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const { meta, address } = yield* v2Seeder(dir)
      assert.strictEqual(meta.version, "v2")
      const leecher = yield* startClient(join(dir, "out"))
      const torrent = yield* leecher.add({ magnet: btmh(meta, [address]) }, { metadataTimeout: "60 seconds" })
      assert.strictEqual(torrent.metainfo.version, "v2")
      assert.deepStrictEqual(
        [...torrent.metainfo.pieceLayers.entries()].map(([root, layer]) => [root, toHex(layer)]).sort(),
        [...meta.pieceLayers.entries()].map(([root, layer]) => [root, toHex(layer)]).sort(),
        "the piece layers fetched from the seeder are the .torrent's"
      )
      yield* torrent.whenComplete.pipe(Effect.timeout("120 seconds"))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "out", path)), path)
    }))

  it.live("a peer whose hashes do not prove the root is dropped and banned, and the next one asked", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const { meta, address } = yield* v2Seeder(dir)
      const liar = yield* lyingPeer(meta)
      // The info dict as a magnet gives it: no piece layers.
      const bare: Metainfo = { ...meta, pieceLayers: new Map() }
      assert.strictEqual(missingPieceLayers(bare).length, 2, "big.bin and mid.bin have layers; small.bin is one piece")
      const fetched = yield* fetchPieceLayers(bare, {
        peerId: randomBytes(20),
        // One connection at a time, the liar first: its answer is judged before anyone else's.
        peers: [liar.address, address],
        maxPeers: 1,
        sources: [],
        encryption: "disable"
      }).pipe(Effect.provide(NodeNetwork.layer))
      assert.deepStrictEqual([...fetched.banned], [peerKey(liar.address)])
      assert.isAtLeast(liar.log.requests, 1)
      yield* waitUntil("the liar's connection to close", () => liar.log.closed === 1)
      assert.strictEqual(liar.log.connections, 1, "asked once, never dialled again")
      for (const [root, layer] of meta.pieceLayers) assert.strictEqual(toHex(fetched.meta.pieceLayers.get(root) ?? new Uint8Array(0)), toHex(layer))
    }))

  it.live("with a liar among the magnet's peers, the client still downloads byte-identical", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const { meta, address } = yield* v2Seeder(dir)
      const liar = yield* lyingPeer(meta)
      const leecher = yield* startClient(join(dir, "out"), { encryption: "disable" })
      const torrent = yield* leecher.add({ magnet: btmh(meta, [liar.address, address]) }, { metadataTimeout: "60 seconds" })
      yield* torrent.whenComplete.pipe(Effect.timeout("120 seconds"))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "out", path)), path)
    }))

  it.live("a hybrid magnet naming both hashes gets its piece layers from our seeder: both hash formats checked, byte-identical", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const { meta, address } = yield* v2Seeder(dir, "hybrid")
      assert.strictEqual(meta.version, "hybrid")
      const magnet = formatMagnet({ infoHash: meta.infoHash, infoHashV2: meta.infoHashV2, name: null, trackers: [], webSeeds: [], peers: [address], selectOnly: null })
      assert.match(magnet, /xt=urn:btih:.*xt=urn:btmh:/)
      const leecher = yield* startClient(join(dir, "out"))
      const torrent = yield* leecher.add({ magnet }, { metadataTimeout: "60 seconds" })
      assert.strictEqual(torrent.metainfo.version, "hybrid")
      assert.deepStrictEqual(layersHex(torrent.metainfo), layersHex(meta), "the layers came from the seeder (a hybrid without them is checked by SHA-1 alone)")
      yield* torrent.whenComplete.pipe(Effect.timeout("120 seconds"))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "out", path)), path)
    }))

  it.live("a hybrid without piece layers and nobody to ask for them opens on SHA-1 alone and downloads", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const { meta, address } = yield* v2Seeder(dir, "hybrid")
      const leecher = yield* startClient(join(dir, "out"))
      // no peer and no source to ask: a v2-only torrent would fail here (NoMetadata)
      const torrent = yield* leecher.add({ ...meta, pieceLayers: new Map() })
      assert.strictEqual(torrent.metainfo.version, "hybrid")
      assert.strictEqual(torrent.metainfo.pieceLayers.size, 0)
      yield* torrent.addPeers([address])
      yield* torrent.whenComplete.pipe(Effect.timeout("120 seconds"))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "out", path)), path)
    }))

  it.live("a seeder of a v2 torrent without piece layers gets them from its own data, with no peer to ask", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), FILES)
      const created = yield* createTorrent(join(dir, "seed", "v2mag"), { pieceLength: 16384, format: "v2" }).pipe(Effect.provide(NodeFileSystem.layer))
      const bare: Metainfo = { ...created.metainfo, pieceLayers: new Map() }
      const mid = join(dir, "seed", "v2mag", "mid.bin")
      const original = yield* Effect.promise(() => readFile(mid))
      const seeder = yield* startClient(join(dir, "seed"))
      // mid.bin damaged: its bytes no longer give its root, so its layer cannot come from them
      yield* Effect.promise(() => writeFile(mid, new Uint8Array(original.length)))
      const failed = yield* Effect.flip(seeder.add(bare))
      assert.strictEqual(failed.reason, "NoMetadata", "mid.bin's layer must come from a peer, and there is none")
      // restored: every layer comes from the data on disk, and the torrent seeds
      yield* Effect.promise(() => writeFile(mid, original))
      const told: Array<readonly [number, number]> = []
      const torrent = yield* seeder.add(bare, { onLayerHashProgress: (hashed, total) => Effect.sync(() => void told.push([hashed, total])) })
      assert.deepStrictEqual(layersHex(torrent.metainfo), layersHex(created.metainfo))
      // the files longer than a piece were hashed for their layers, and the caller saw it move
      const toHash = created.metainfo.files.filter((f) => f.length > 16384).reduce((n, f) => n + f.length, 0)
      assert.deepStrictEqual(told[0], [0, toHash])
      assert.deepStrictEqual(told.at(-1), [toHash, toHash])
      assert.deepStrictEqual(told.map(([h]) => h), told.map(([h]) => h).sort((a, b) => a - b), "never goes back")
      yield* torrent.whenComplete.pipe(Effect.timeout("30 seconds"))
    }))

  it.live("a hybrid is announced in its v2 swarm too: a leecher with only its btmh magnet finds it through a tracker", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const tracker = yield* bittorrentTracker
      yield* writePayload(join(dir, "seed"), FILES)
      const created = yield* createTorrent(join(dir, "seed", "v2mag"), { pieceLength: 16384, format: "hybrid", trackers: [[tracker.http]] }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const meta = created.metainfo
      const seeder = yield* startNodeClient(join(dir, "seed"), { lsd: false })
      yield* (yield* seeder.add(created.torrent)).whenComplete
      // the link names the v2 swarm alone: the leecher announces and dials the truncated SHA-256 name
      const magnet = formatMagnet({ infoHash: null, infoHashV2: meta.infoHashV2, name: null, trackers: [tracker.http], webSeeds: [], peers: [], selectOnly: null })
      const leecher = yield* startNodeClient(join(dir, "out"), { lsd: false })
      const torrent = yield* leecher.add({ magnet }, { metadataTimeout: "60 seconds" })
      assert.strictEqual(torrent.metainfo.version, "hybrid")
      assert.deepStrictEqual(layersHex(torrent.metainfo), layersHex(meta))
      yield* torrent.whenComplete.pipe(Effect.timeout("120 seconds"))
      for (const path of Object.keys(FILES)) assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "out", path)), path)
    }))
})
