/**
 * Peers found through a real tracker (opentracker, HTTP and UDP on one port) and
 * nothing else: nobody is told the other's address.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import { toHex } from "../../src/bytes.ts"
import { tempDir, writePayload } from "../support/files.ts"
import {
  assertSameData,
  awaitComplete,
  awaitState,
  freePort,
  ourTorrent,
  readTorrent,
  waitForPort,
  withTrackerClient
} from "./support/harness.ts"
import { ltAnnounced, ltCreate, ltPeer, opentracker } from "./support/peers.ts"
import { installed } from "./support/available.ts"
import { liveWith } from "../support/requirements.ts"


const ALBUM = { "album/a.bin": 2_000_003, "album/b.bin": 777_777, "album/sub/c.txt": 12 }

/** opentracker on a fresh port, serving `infoHash`; resolves once it accepts connections. */
const startTracker = (work: string, port: number, infoHash: Uint8Array | null) =>
  Effect.gen(function*() {
    assert.isNotNull(infoHash)
    const proc = yield* opentracker({ dir: join(work, "tracker"), port, infoHashes: infoHash === null ? [] : [toHex(infoHash)] })
    yield* waitForPort(port, "opentracker")
    return proc
  })

const downloadThroughTracker = (scheme: "http" | "udp") =>
  Effect.gen(function*() {
    const work = yield* tempDir("et-interop-")
    const src = join(work, "src")
    const out = join(work, "out")
    yield* writePayload(src, ALBUM)
    const port = yield* freePort
    const announce = scheme === "http" ? `http://127.0.0.1:${port}/announce` : `udp://127.0.0.1:${port}/announce`
    const torrentPath = join(work, "album.torrent")
    yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 128 * 1024, tracker: announce })
    const { bytes, meta } = yield* readTorrent(torrentPath)
    yield* startTracker(work, port, meta.infoHash)

    const seeder = yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src })
    yield* seeder.proc.waitFor("announce to opentracker", () => ltAnnounced(seeder), "30 seconds")

    yield* withTrackerClient(out, Effect.gen(function*() {
      const client = yield* Client
      // No peers given and the seeder dials nobody: the tracker is the only way to meet.
      const torrent = yield* client.add(bytes)
      yield* awaitComplete(torrent, 60)
      // (Its peer count is not checked: the `completed` announce, answered with no
      // peers since opentracker gives seeds no seeds, may already have replaced it.)
      const state = yield* awaitState(torrent, (s) => s.trackers.length > 0, "tracker status")
      assert.deepStrictEqual(state.trackers.map((t) => [t.url, t.ok]), [[announce, true]])
    }))
    yield* assertSameData(meta, src, out)
    yield* seeder.proc.waitFor("upload counted", () => {
      const s = seeder.stats()
      return s !== undefined && s.uploaded >= meta.totalSize ? s : undefined
    }, "5 seconds")
  })

describe("interop: through opentracker", () => {
  liveWith(installed.libtorrent, installed.opentracker)("our client finds a libtorrent seeder through an HTTP tracker only", () =>
    downloadThroughTracker("http"))

  liveWith(installed.libtorrent, installed.opentracker)("our client finds a libtorrent seeder through a UDP tracker only", () =>
    downloadThroughTracker("udp"))

  liveWith(installed.libtorrent, installed.opentracker)("a libtorrent leecher finds our seeding client through the tracker only", () =>
    Effect.gen(function*() {
      const work = yield* tempDir("et-interop-")
      const src = join(work, "src")
      const out = join(work, "out")
      yield* writePayload(src, ALBUM)
      const port = yield* freePort
      const announce = `http://127.0.0.1:${port}/announce`
      const torrentPath = join(work, "album.torrent")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024, [announce])
      yield* startTracker(work, port, meta.infoHash)

      yield* withTrackerClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(meta, { directory: src })
        // Our `started` announce must be in before the leecher asks, or it hears of nobody.
        yield* awaitState(torrent, (s) => s.status === "seeding" && s.trackers.some((t) => t.ok), "seeding and announced")
        const leecher = yield* ltPeer("libtorrent leecher", "leech", { torrent: torrentPath, save: out })
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "60 seconds")
        yield* awaitState(torrent, (s) => s.uploaded >= meta.totalSize, "uploaded the whole payload")
      }))
      yield* assertSameData(meta, src, out)
    }))
})
