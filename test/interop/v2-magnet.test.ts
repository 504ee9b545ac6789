/**
 * BEP 52 magnets against python3-libtorrent 2.0.8, on 127.0.0.1, every side at its default
 * settings: a `urn:btmh:` link names a v2-only torrent, whose info dict comes over
 * ut_metadata and whose piece layers (not in the info dict) over hash requests.
 * - our `download` command, given only the link and the seeder's address, fetches a v2-only
 *   torrent made and seeded by libtorrent (it asks libtorrent for the piece layers);
 * - libtorrent, given only the link and our address, fetches it from our seeder, asking us
 *   for the piece layers (our trace shows its hash requests and our answers);
 * - a hybrid magnet naming both hashes (`urn:btih:` and `urn:btmh:`) opens as a hybrid: we
 *   ask libtorrent for its piece layers too, so every piece is checked by SHA-1 and SHA-256;
 * - libtorrent given only the `urn:btmh:` link of our hybrid reaches us by its v2 name.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { toHex } from "../../src/bytes.ts"
import { Client } from "../../src/client/index.ts"
import { formatMagnet, type Metainfo } from "../../src/metainfo/index.ts"
import { memorySink } from "../../src/trace/index.ts"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import { assertSameData, awaitComplete, awaitState, readTorrent, withNodeClient, workspace } from "./support/harness.ts"
import { assertLayerPhase, downloadWithCli } from "./support/cli.ts"
import { InteropError } from "./support/process.ts"
import { ltCreate, ltMagnetLeech, ltPeer } from "./support/peers.ts"

const ALBUM = {
  "album/a.bin": 3_000_001,
  "album/b.bin": 1_234_567,
  "album/empty.dat": 0,
  "album/sub/c.txt": 1000
}
const ALBUM_BYTES = 3_000_001 + 1_234_567 + 1000

const btmh = (meta: Metainfo) =>
  formatMagnet({ infoHash: null, infoHashV2: meta.infoHashV2, name: null, trackers: [], webSeeds: [], peers: [], selectOnly: null })

const hybridMagnet = (meta: Metainfo) =>
  formatMagnet({ infoHash: meta.infoHash, infoHashV2: meta.infoHashV2, name: null, trackers: [], webSeeds: [], peers: [], selectOnly: null })

/**
 * Our client seeds a torrent libtorrent made (traced), and libtorrent, given only its
 * `urn:btmh:` link and our address, fetches it: the info dict it got from us is ours byte
 * for byte, and so is the data. The leecher is still running (for its stats) when this returns.
 */
const ltLeechesOurSeed = (format: "v2" | "hybrid", label: string) =>
  Effect.gen(function*() {
    const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
    yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 16 * 1024, format })
    const { bytes, meta } = yield* readTorrent(torrentPath)
    const infoOut = join(work, "info.bin")
    const sink = memorySink()
    const leecher = yield* withNodeClient(src, Effect.gen(function*() {
      const client = yield* Client
      const seeding = yield* client.add(bytes, { trace: { sink } })
      yield* awaitComplete(seeding, 60)
      const ourPort = client.port
      if (ourPort === null) return yield* new InteropError({ detail: "our client is not listening" })
      const leecher = yield* ltMagnetLeech(label, { magnet: btmh(meta), save: out, infoOut, connect: [ourPort] })
      yield* leecher.proc.waitFor("metadata", leecher.metadataSize, "60 seconds")
      yield* leecher.proc.waitFor("finished", () => (leecher.finished() ? true : undefined), "120 seconds")
      return leecher
    }))
    const info = new Uint8Array(yield* Effect.promise(() => readFile(infoOut)))
    assert.deepStrictEqual(info, meta.infoBytes, "libtorrent got the info dict from us, byte for byte")
    yield* assertSameData(meta, src, out)
    return { meta, sink, leecher }
  })

describe("interop: v2-only magnets (BEP 52 hash requests) with libtorrent", () => {
  liveWith(installed.libtorrent)("our `download` command fetches a v2-only torrent from a btmh magnet and a libtorrent seeder", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const created = yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 16 * 1024, format: "v2" })
      const { meta } = yield* readTorrent(torrentPath)
      assert.strictEqual(meta.version, "v2")
      assert.isAbove(meta.pieceLayers.size, 1, "files longer than a piece: their layers must come from the seeder")
      const seeder = yield* ltPeer("libtorrent v2 seeder", "seed", { torrent: torrentPath, save: src })
      const magnet = btmh(meta)
      assert.match(magnet, /^magnet:\?xt=urn:btmh:1220[0-9a-f]{64}$/)
      const events = yield* downloadWithCli({
        work, source: magnet, out, peers: [seeder.port], timeout: "120 seconds",
        expect: { meta, src, infoHash: created.infoHash, bytes: ALBUM_BYTES }
      })
      // the info dict first (ut_metadata), then the layers (hash requests), then the data
      const at = (type: string) => events.findIndex((e) => e["type"] === type)
      assert.isAbove(at("metadata"), -1, "the metadata phase is shown")
      assert.isAbove(at("pieceLayers"), at("metadata"))
      assertLayerPhase(events, meta.pieceLayers.size)
    }))

  liveWith(installed.libtorrent)("libtorrent fetches a v2-only torrent from a btmh magnet and our seeder, asking us for the piece layers", () =>
    Effect.gen(function*() {
      const { meta, sink, leecher } = yield* ltLeechesOurSeed("v2", "libtorrent v2 magnet leecher")
      const stats = yield* leecher.proc.waitFor("stats after finishing", () => {
        const s = leecher.stats()
        return s !== undefined && s.seeding ? s : undefined
      }, "5 seconds")
      assert.isAtLeast(stats.downloaded, ALBUM_BYTES)
      assert.strictEqual(meta.version, "v2")
      // libtorrent can check a file once it holds all of it (its leaves give the root), so
      // finishing alone does not show that we served hashes: our trace does.
      const count = (type: string) => sink.lines.filter((l) => l.includes(`"type":"${type}"`)).length
      assert.isAtLeast(count("HashRequest"), 1, "libtorrent asked us for hashes")
      assert.strictEqual(count("Hashes"), count("HashRequest"), "every hash request was answered with hashes")
      assert.strictEqual(count("HashReject"), 0)
    }))

  liveWith(installed.libtorrent)("a hybrid magnet naming both hashes opens as a hybrid: the piece layers come from libtorrent, both hash formats checked", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 16 * 1024, format: "hybrid" })
      const { meta } = yield* readTorrent(torrentPath)
      assert.strictEqual(meta.version, "hybrid")
      assert.isAbove(meta.pieceLayers.size, 1)
      const seeder = yield* ltPeer("libtorrent hybrid seeder", "seed", { torrent: torrentPath, save: src })
      const magnet = hybridMagnet(meta)
      assert.match(magnet, /xt=urn:btih:[0-9a-f]{40}.*xt=urn:btmh:1220[0-9a-f]{64}/)
      yield* withNodeClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add({ magnet }, { directory: out, peers: [{ host: "127.0.0.1", port: seeder.port }] })
        assert.strictEqual(torrent.metainfo.version, "hybrid")
        // the layers the torrent checks its pieces against are libtorrent's, every one of them
        const hex = (m: Metainfo) => [...m.pieceLayers.entries()].map(([root, layer]) => [root, toHex(layer)]).sort()
        assert.deepStrictEqual(hex(torrent.metainfo), hex(meta), "the piece layers were fetched (without them a hybrid is checked by SHA-1 alone)")
        yield* awaitComplete(torrent, 60)
        const state = yield* awaitState(torrent, (s) => s.status === "seeding", "seeding")
        assert.strictEqual(state.piecesVerified, meta.pieceCount)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("libtorrent with only the btmh magnet of our hybrid dials us by its v2 name and fetches it", () =>
    Effect.gen(function*() {
      const { meta } = yield* ltLeechesOurSeed("hybrid", "libtorrent btmh leecher of a hybrid")
      assert.strictEqual(meta.version, "hybrid")
    }))
})
