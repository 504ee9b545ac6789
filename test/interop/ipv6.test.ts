/**
 * IPv6 against libtorrent on ::1: a stock libtorrent seeder listening on [::1] only, found
 * through an HTTP tracker on [::1] (bittorrent-tracker, whose replies carry IPv6 peers in
 * `peers6`, BEP 7) and nothing else; our whole client (layerNode, its default transports)
 * listens on ::1 too, so every byte it gets travels over IPv6. And the IPv6 DHT (BEP 32): our
 * client finds a libtorrent seeder through a DHT of libtorrent nodes reachable only over ::1.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import { bittorrentTrackerOn } from "../support/tracker-server.ts"
import { recordEvents } from "../support/engine.ts"
import { InteropError } from "./support/process.ts"
import { assertSameData, awaitComplete, awaitState, freePorts, readTorrent, withNodeClient, workspace } from "./support/harness.ts"
import { ltAnnounced, ltCreate, ltDhtNode, ltPeer } from "./support/peers.ts"
import { installed } from "./support/available.ts"
import { liveWith } from "../support/requirements.ts"

const ALBUM = { "album/a.bin": 1_500_001, "album/sub/b.bin": 300_000 }

describe("interop: IPv6", () => {
  liveWith(installed.libtorrent)("our client reaches a libtorrent seeder over [::1], found through peers6 of an HTTP tracker on [::1]", () =>
    Effect.gen(function*() {
      const { http } = yield* bittorrentTrackerOn("::1")
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 64 * 1024, tracker: http })
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const seeder = yield* ltPeer("libtorrent seeder on [::1]", "seed", { torrent: torrentPath, save: src, host: "::1" })
      yield* seeder.proc.waitFor("announce to the tracker", () => ltAnnounced(seeder), "30 seconds")

      yield* withNodeClient(out, Effect.gen(function*() {
        const client = yield* Client
        // no peers given, and the seeder dials nobody: the tracker's peers6 is the only way
        const torrent = yield* client.add(bytes)
        yield* awaitComplete(torrent, 60)
        const state = yield* awaitState(torrent, (s) => s.trackers.length > 0, "tracker status")
        assert.deepStrictEqual(state.trackers.map((t) => [t.url, t.ok]), [[http, true]])
      }), { host: "::1" })
      yield* assertSameData(meta, src, out)
      yield* seeder.proc.waitFor("upload counted", () => {
        const s = seeder.stats()
        return s !== undefined && s.uploaded >= meta.totalSize ? s : undefined
      }, "5 seconds")
    }))

  liveWith(installed.libtorrent)("our client finds a libtorrent seeder through an IPv6-only loopback DHT (BEP 32) and downloads from it over [::1]", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      // no tracker in the torrent, no peers given: only the DHT can name the seeder
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 64 * 1024 })
      const { bytes, meta } = yield* readTorrent(torrentPath)
      if (meta.infoHash === null) return yield* new InteropError({ detail: "libtorrent made a torrent without a v1 info-hash" })
      const infoHash = Buffer.from(meta.infoHash).toString("hex")
      const [ltDhtPort = 0, seedPort = 0, ourPort = 0] = yield* freePorts(3)

      // Our node starts first, bootstrapping through the libtorrent nodes' ports (nobody is there
      // yet); the libtorrent nodes, IPv6-only, then join through ours: each side bootstraps from the other.
      yield* withNodeClient(out, Effect.gen(function*() {
        const client = yield* Client
        const dhtNode = yield* ltDhtNode("libtorrent DHT node on [::1]", { port: ltDhtPort, host: "::1", dhtNodes: [ourPort] })
        const seeder = yield* ltPeer("libtorrent DHT seeder on [::1]", "seed", {
          torrent: torrentPath,
          save: src,
          port: seedPort,
          host: "::1",
          dhtNodes: [ltDhtPort, ourPort]
        })
        assert.strictEqual(seeder.piecesAtStart, meta.pieceCount, "the seeder holds every piece")
        yield* dhtNode.proc.waitFor("the seeder's announce over IPv6", () =>
          dhtNode.announces().find((a) => a.infoHash === infoHash && a.port === seedPort), "30 seconds")
        // libtorrent keeps a node in its routing table only once it answered its queries
        yield* dhtNode.proc.waitFor("our node among its live nodes", () =>
          dhtNode.live().includes(ourPort) ? true : undefined, "30 seconds")

        // Opened paused so the event log misses nothing: the seeder's address must come from
        // our own get_peers lookup over IPv6, before any connection (either way) exists.
        const torrent = yield* client.add(bytes, { paused: true })
        const log = yield* recordEvents(torrent)
        yield* torrent.resume
        const found = yield* log.waitFor("the DHT to name the seeder", (e) => e._tag === "PeersDiscovered", "30 seconds")
        assert.deepStrictEqual(found, { _tag: "PeersDiscovered", source: "dht", count: 1 }, "the first peers came from the DHT")
        yield* awaitComplete(torrent, 60)
        // our announce_peer over IPv6, with the token from libtorrent's get_peers reply, was accepted
        yield* dhtNode.proc.waitFor("our client's announce over IPv6", () =>
          dhtNode.announces().find((a) => a.infoHash === infoHash && a.port === ourPort), "30 seconds")
        yield* seeder.proc.waitFor("upload counted", () => {
          const s = seeder.stats()
          return s !== undefined && s.uploaded >= meta.totalSize ? s : undefined
        }, "5 seconds")
      }), { host: "::1", port: ourPort, dht: { bootstrap: [`[::1]:${ltDhtPort}`, `[::1]:${seedPort}`] } })
      yield* assertSameData(meta, src, out)
    }))
})
