/**
 * IPv6 against libtorrent on ::1: a stock libtorrent seeder listening on [::1] only, found
 * through an HTTP tracker on [::1] (bittorrent-tracker, whose replies carry IPv6 peers in
 * `peers6`, BEP 7) and nothing else; our whole client (layerNode, its default transports)
 * listens on ::1 too, so every byte it gets travels over IPv6.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import { bittorrentTrackerOn } from "../support/tracker-server.ts"
import { assertSameData, awaitComplete, awaitState, readTorrent, withNodeClient, workspace } from "./support/harness.ts"
import { ltAnnounced, ltCreate, ltPeer } from "./support/peers.ts"
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
})
