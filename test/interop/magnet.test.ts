/**
 * Magnet links and the DHT against python3-libtorrent, on 127.0.0.1 only: our client
 * fetches the info dict from a libtorrent seeder (BEP 9), libtorrent fetches it from us,
 * and our client finds a libtorrent seeder through a loopback DHT of libtorrent nodes.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import { formatMagnet } from "../../src/metainfo/index.ts"
import type { Metainfo } from "../../src/metainfo/model.ts"
import type { Address } from "../../src/net/index.ts"
import { tempDir, writePayload } from "../support/files.ts"
import {
  assertSameData,
  awaitComplete,
  awaitState,
  freePorts,
  ourTorrent,
  readTorrent,
  withNodeClient
} from "./support/harness.ts"
import { ltCreate, ltDhtNode, ltMagnetLeech, ltPeer } from "./support/peers.ts"
import { installed } from "./support/available.ts"
import { liveWith } from "../support/requirements.ts"
import { InteropError } from "./support/process.ts"


/**
 * 16 KiB pieces over ~14 MB: about 870 piece hashes, so the info dict (~17 KB) spans two
 * 16 KiB metadata pieces and the last one is short. Files end mid-piece; one is empty.
 */
const PAYLOAD = {
  "mag/a.bin": 13_000_001,
  "mag/b.bin": 1_234_567,
  "mag/empty.dat": 0,
  "mag/sub/c.txt": 1000
}
const PAYLOAD_BYTES = 13_000_001 + 1_234_567 + 1000
const PIECE_LENGTH = 16 * 1024
const METADATA_BLOCK = 16 * 1024

/** A magnet link naming only the v1 info-hash (null would fail the fetch), plus `peers` as x.pe. */
const magnetOf = (meta: Metainfo, peers: ReadonlyArray<Address> = []) =>
  formatMagnet({
    infoHash: meta.infoHash,
    infoHashV2: null,
    name: null,
    trackers: [],
    webSeeds: [],
    peers: [...peers],
    selectOnly: null
  })

/** The payload and a libtorrent-made .torrent of it: `src/mag` and `work/mag.torrent`. */
const ltMadePayload = Effect.gen(function*() {
  const work = yield* tempDir("et-interop-")
  const src = join(work, "src")
  yield* writePayload(src, PAYLOAD)
  const torrentPath = join(work, "mag.torrent")
  yield* ltCreate(join(src, "mag"), torrentPath, { pieceLength: PIECE_LENGTH })
  const { meta } = yield* readTorrent(torrentPath)
  assert.isAbove(meta.infoBytes.length, METADATA_BLOCK, "the info dict spans more than one metadata piece")
  return { work, src, torrentPath, meta }
})

describe("interop: magnet links and the DHT with libtorrent", () => {
  liveWith(installed.libtorrent)("our client fetches the info dict from a libtorrent seeder (ut_metadata, x.pe), then the data", () =>
    Effect.gen(function*() {
      const { work, src, torrentPath, meta } = yield* ltMadePayload
      const out = join(work, "out")
      const seeder = yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src })
      assert.strictEqual(seeder.piecesAtStart, meta.pieceCount, "the seeder holds every piece")

      yield* withNodeClient(out, Effect.gen(function*() {
        const client = yield* Client
        const progress: Array<{ readonly received: number; readonly total: number }> = []
        const torrent = yield* client.add({ magnet: magnetOf(meta, [{ host: "127.0.0.1", port: seeder.port }]) }, {
          metadataTimeout: "60 seconds",
          onMetadataProgress: (p) => Effect.sync(() => { progress.push(p) })
        })
        assert.deepStrictEqual(torrent.metainfo.infoBytes, meta.infoBytes, "the fetched info dict is libtorrent's, byte for byte")
        assert.deepStrictEqual(torrent.metainfo.infoHash, meta.infoHash)
        assert.isTrue(
          progress.some((p) => p.total === meta.infoBytes.length),
          `progress reported the metadata size ${meta.infoBytes.length}: ${JSON.stringify(progress)}`
        )
        yield* awaitComplete(torrent, 90)
        const state = yield* awaitState(torrent, (s) => s.status === "seeding", "seeding")
        assert.strictEqual(state.wantedBytes, PAYLOAD_BYTES)
        assert.strictEqual(state.piecesVerified, meta.pieceCount)
      }))
      yield* assertSameData(meta, src, out)
      yield* seeder.proc.waitFor("upload counted", () => {
        const s = seeder.stats()
        return s !== undefined && s.uploaded >= PAYLOAD_BYTES ? s : undefined
      }, "5 seconds")
    }))

  liveWith(installed.libtorrent)("our client (default settings) fetches the info dict from a libtorrent seeder that forces RC4, then the data", () =>
    Effect.gen(function*() {
      const { work, src, torrentPath, meta } = yield* ltMadePayload
      const out = join(work, "out")
      const seeder = yield* ltPeer("libtorrent seeder (RC4 forced)", "seed", { torrent: torrentPath, save: src, forceEncryption: true })
      yield* withNodeClient(out, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add({ magnet: magnetOf(meta, [{ host: "127.0.0.1", port: seeder.port }]) }, {
          metadataTimeout: "60 seconds"
        })
        assert.deepStrictEqual(torrent.metainfo.infoBytes, meta.infoBytes, "the fetched info dict is libtorrent's, byte for byte")
        yield* awaitComplete(torrent, 90)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("libtorrent, given only a magnet link, fetches the info dict and the data from our seeder", () =>
    Effect.gen(function*() {
      const work = yield* tempDir("et-interop-")
      const src = join(work, "src")
      const ltOut = join(work, "lt-out")
      const infoOut = join(work, "info.bin")
      yield* writePayload(src, PAYLOAD)
      const torrentPath = join(work, "mag.torrent")
      const meta = yield* ourTorrent(join(src, "mag"), torrentPath, PIECE_LENGTH)
      assert.isAbove(meta.infoBytes.length, METADATA_BLOCK, "the info dict spans more than one metadata piece")
      const { bytes } = yield* readTorrent(torrentPath)

      yield* withNodeClient(src, Effect.gen(function*() {
        const client = yield* Client
        const seeding = yield* client.add(bytes)
        yield* awaitComplete(seeding, 60)
        const ourPort = client.port
        if (ourPort === null) return yield* new InteropError({ detail: "our client is not listening" })
        const leecher = yield* ltMagnetLeech("libtorrent magnet leecher", {
          magnet: magnetOf(meta),
          save: ltOut,
          infoOut,
          connect: [ourPort]
        })
        yield* leecher.proc.waitFor("metadata", leecher.metadataSize, "60 seconds")
        yield* leecher.proc.waitFor("finished", () => (leecher.finished() ? true : undefined), "120 seconds")
        // Only our client was ever named to it: every byte came from us.
        const stats = yield* leecher.proc.waitFor("stats after finishing", () => {
          const s = leecher.stats()
          return s !== undefined && s.seeding ? s : undefined
        }, "5 seconds")
        assert.isAtLeast(stats.downloaded, PAYLOAD_BYTES)
      }))
      const info = new Uint8Array(yield* Effect.promise(() => readFile(infoOut)))
      assert.deepStrictEqual(info, meta.infoBytes, "libtorrent got our info dict, byte for byte")
      yield* assertSameData(meta, src, ltOut)
    }))

  liveWith(installed.libtorrent)("trackerless: our client and libtorrent nodes join one loopback DHT; our client finds the libtorrent seeder through it", () =>
    Effect.gen(function*() {
      const { work, src, torrentPath, meta } = yield* ltMadePayload
      const out = join(work, "out")
      if (meta.infoHash === null) return yield* new InteropError({ detail: "libtorrent made a torrent without a v1 info-hash" })
      const infoHash = Buffer.from(meta.infoHash).toString("hex")
      const ports = yield* freePorts(3)
      const [ltDhtPort = 0, seedPort = 0, ourDhtPort = 0] = ports

      // Our node starts first, bootstrapping through the libtorrent nodes' ports (nobody is
      // there yet); the libtorrent nodes then join through ours: each side bootstraps from the other.
      yield* withNodeClient(out, Effect.gen(function*() {
        const client = yield* Client
        const ourPort = client.port
        if (ourPort === null) return yield* new InteropError({ detail: "our client is not listening" })
        // A DHT-only libtorrent node, and a seeder that joins through it and us, then announces.
        const dhtNode = yield* ltDhtNode("libtorrent DHT node", { port: ltDhtPort, dhtNodes: [ourDhtPort] })
        const seeder = yield* ltPeer("libtorrent DHT seeder", "seed", {
          torrent: torrentPath,
          save: src,
          port: seedPort,
          dhtNodes: [ltDhtPort, ourDhtPort]
        })
        assert.strictEqual(seeder.piecesAtStart, meta.pieceCount, "the seeder holds every piece")
        yield* dhtNode.proc.waitFor("the seeder's announce", () =>
          dhtNode.announces().find((a) => a.infoHash === infoHash && a.port === seedPort), "30 seconds")
        // libtorrent keeps a node in its routing table only once it answered libtorrent's queries.
        yield* dhtNode.proc.waitFor("our node among its live nodes", () =>
          dhtNode.live().includes(ourDhtPort) ? true : undefined, "30 seconds")
        yield* seeder.proc.waitFor("our node among its live nodes", () =>
          seeder.dhtLive().includes(ourDhtPort) ? true : undefined, "30 seconds")

        // No tracker, no x.pe: only the DHT can name the seeder.
        const magnet = magnetOf(meta)
        assert.notInclude(magnet, "x.pe")
        assert.notInclude(magnet, "tr=")
        const torrent = yield* client.add({ magnet }, { metadataTimeout: "60 seconds" })
        assert.deepStrictEqual(torrent.metainfo.infoBytes, meta.infoBytes, "the fetched info dict is libtorrent's, byte for byte")
        yield* awaitComplete(torrent, 90)
        // Our announce_peer (with the token from libtorrent's get_peers reply) was accepted.
        yield* dhtNode.proc.waitFor("our client's announce", () =>
          dhtNode.announces().find((a) => a.infoHash === infoHash && a.port === ourPort), "30 seconds")
        yield* seeder.proc.waitFor("upload counted", () => {
          const s = seeder.stats()
          return s !== undefined && s.uploaded >= PAYLOAD_BYTES ? s : undefined
        }, "5 seconds")
      }), { dht: { bootstrap: [`127.0.0.1:${ltDhtPort}`, `127.0.0.1:${seedPort}`], port: ourDhtPort } })
      yield* assertSameData(meta, src, out)
    }))
})
