/**
 * The reverse direction: real reference clients download from OUR client, which seeds
 * after checking complete data on disk. libtorrent dials us; aria2 and Transmission are
 * dialled by us (Transmission never dials 127.0.0.0/8, and aria2 has no option to add a peer).
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { assertSameData, freePort, ourTorrent, readTorrent, seedFrom, uploadedAll, waitForPort, withClient, workspace } from "./support/harness.ts"
import { aria2Leech, ltPeer, mktorrent, transmission, transmissionComplete, transmissionRunning } from "./support/peers.ts"
import { installed } from "./support/available.ts"
import { liveWith } from "../support/requirements.ts"


const ALBUM = {
  "album/a.bin": 2_600_003,
  "album/b.bin": 999_999,
  "album/empty.dat": 0,
  "album/sub/c.txt": 4097
}
const ALBUM_BYTES = 2_600_003 + 999_999 + 4097

describe("interop: reference clients download from our client", () => {
  liveWith(installed.libtorrent)("a libtorrent leecher that dials us, with a torrent made by our creator", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)

      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* ltPeer("libtorrent leecher", "leech", { torrent: torrentPath, save: out, connect: [ours.port] })
        assert.strictEqual(leecher.piecesAtStart, 0, "the leecher starts empty")
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "60 seconds")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.aria2, installed.mktorrent)("an aria2 leecher that we dial, with a torrent made by mktorrent", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* mktorrent(join(src, "album"), torrentPath, 16)
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const port = yield* freePort

      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, bytes, ALBUM_BYTES)
        const leecher = yield* aria2Leech({ torrent: torrentPath, dir: out, port })
        yield* waitForPort(port, "aria2c")
        yield* ours.torrent.addPeers([{ host: "127.0.0.1", port }])
        // With --seed-time=0 aria2 exits 0 once it has every piece and verified it.
        const code = yield* leecher.waitExit("60 seconds")
        assert.strictEqual(code, 0, `aria2c exit code; output:\n${leecher.output().slice(-2000)}`)
        assert.include(leecher.output(), "Download complete")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.transmission)("a Transmission leecher that we dial, with a torrent made by our creator", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 256 * 1024)
      const port = yield* freePort

      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* transmission("transmission leecher", {
          torrent: torrentPath, dir: out, configDir: join(work, "transmission"), port
        })
        yield* leecher.waitFor("running torrent", () => transmissionRunning(leecher), "30 seconds")
        yield* ours.torrent.addPeers([{ host: "127.0.0.1", port }])
        // Transmission says "interested" only on its 10 s pulse; then it is quick.
        yield* leecher.waitFor("download complete", () => transmissionComplete(leecher), "90 seconds")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
      }))
      yield* assertSameData(meta, src, out, { skipEmpty: true })
    }))
})
