/**
 * MSE/PE against reference clients that refuse plaintext, in both directions, with our
 * client at its default ("prefer") unless a test says otherwise:
 * - libtorrent forcing RC4 (INTEROP.md settings): we download from it; it dials us and
 *   downloads from us;
 * - aria2 `--bt-force-encryption=true`: we download from it and it from us (we dial it;
 *   aria2 takes peers only from trackers);
 * - Transmission `encryption: required` (`-er`): we download from it and it from us (we
 *   dial it; it never dials 127.0.0.0/8);
 * - MSE over uTP: libtorrent with TCP off and RC4 forced, both ways (our client dials uTP
 *   first by default; this makes sure the encrypted stream really rides on uTP);
 * - our client requiring encryption against a stock libtorrent, both ways;
 * - a libtorrent that refuses MSE (plaintext only): our MSE opening fails, the retry in
 *   plaintext completes.
 * Stock WebTorrent (which opens every connection with MSE) is in `npm test`.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Client, type ClientConfig } from "../../src/client/index.ts"
import type { Metainfo } from "../../src/metainfo/model.ts"
import type { TorrentEvent } from "../../src/torrent/index.ts"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import {
  assertSameData,
  awaitComplete,
  eventsUntil,
  freePort,
  ourTorrent,
  readTorrent,
  recordEvents,
  seedFrom,
  uploadedAll,
  waitForPort,
  withClient,
  workspace
} from "./support/harness.ts"
import { aria2Leech, aria2Seed, ltPeer, mktorrent, transmission, transmissionComplete, transmissionRunning } from "./support/peers.ts"

const ALBUM = { "album/a.bin": 2_500_003, "album/b.bin": 1_000_001, "album/c.txt": 777 }
const ALBUM_BYTES = 2_500_003 + 1_000_001 + 777
const local = (port: number) => ({ host: "127.0.0.1", port })

/** Every connection that carried the transfer was RC4 (or, with `false`, none was). */
const assertEncrypted = (events: ReadonlyArray<TorrentEvent>, rc4 = true) => {
  const connected = events.flatMap((e) => (e._tag === "PeerConnected" ? [e] : []))
  assert.isAbove(connected.length, 0, "a peer connected")
  for (const c of connected) assert.strictEqual(c.encrypted, rc4, `${c.peer} (${c.client}) encrypted`)
}

/** Downloads `torrent` from `port` with our client (config on top of the defaults), byte-identical. */
const downloadFrom = (out: string, src: string, meta: Metainfo, port: number, seconds: number, config: ClientConfig = {}) =>
  withClient(out, Effect.gen(function*() {
    const client = yield* Client
    const torrent = yield* client.add(meta)
    const events = yield* recordEvents(torrent)
    yield* torrent.addPeers([local(port)])
    yield* awaitComplete(torrent, seconds)
    yield* eventsUntil(events, "the connection's event", (es) => es.some((e) => e._tag === "PeerConnected"))
    return events
  }), config).pipe(Effect.tap(() => assertSameData(meta, src, out)))

describe("interop: encryption (MSE/PE)", () => {
  liveWith(installed.libtorrent)("we download from a libtorrent seeder that forces RC4", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      const seeder = yield* ltPeer("libtorrent seeder (RC4 forced)", "seed", { torrent: torrentPath, save: src, forceEncryption: true })
      assertEncrypted(yield* downloadFrom(out, src, meta, seeder.port, 60))
    }))

  liveWith(installed.libtorrent)("a libtorrent leecher that forces RC4 dials us and downloads", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* ltPeer("libtorrent leecher (RC4 forced)", "leech", { torrent: torrentPath, save: out, connect: [ours.port], forceEncryption: true })
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "60 seconds")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
        assertEncrypted(ours.events)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("over uTP: we download from a libtorrent seeder with TCP off that forces RC4", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      const seeder = yield* ltPeer("libtorrent seeder (uTP only, RC4 forced)", "seed", {
        torrent: torrentPath, save: src, transports: "utp", forceEncryption: true
      })
      assertEncrypted(yield* downloadFrom(out, src, meta, seeder.port, 60))
      assert.deepStrictEqual(seeder.transportsSeen(), ["utp"])
    }))

  liveWith(installed.libtorrent)("over uTP: a libtorrent leecher with TCP off that forces RC4 dials us and downloads", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* ltPeer("libtorrent leecher (uTP only, RC4 forced)", "leech", {
          torrent: torrentPath, save: out, connect: [ours.port], transports: "utp", forceEncryption: true
        })
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "60 seconds")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
        assertEncrypted(ours.events)
        assert.deepStrictEqual(leecher.transportsSeen(), ["utp"])
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.aria2, installed.mktorrent)("we download from an aria2 seeder with --bt-force-encryption=true", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* mktorrent(join(src, "album"), torrentPath, 16)
      const { meta } = yield* readTorrent(torrentPath)
      const port = yield* freePort
      yield* aria2Seed({ torrent: torrentPath, dir: src, port, forceEncryption: true })
      assertEncrypted(yield* downloadFrom(out, src, meta, port, 60))
    }))

  liveWith(installed.aria2, installed.mktorrent)("an aria2 leecher with --bt-force-encryption=true downloads from us (we dial it)", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* mktorrent(join(src, "album"), torrentPath, 16)
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const port = yield* freePort
      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, bytes, ALBUM_BYTES)
        const leecher = yield* aria2Leech({ torrent: torrentPath, dir: out, port, forceEncryption: true })
        yield* waitForPort(port, "aria2c")
        yield* ours.torrent.addPeers([local(port)])
        const code = yield* leecher.waitExit("60 seconds")
        assert.strictEqual(code, 0, `aria2c exit code; output:\n${leecher.output().slice(-2000)}`)
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
        assertEncrypted(ours.events)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.transmission)("we download from a Transmission seeder that requires encryption", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 128 * 1024)
      const port = yield* freePort
      const seeder = yield* transmission("transmission seeder (encryption required)", {
        torrent: torrentPath, dir: src, configDir: join(work, "transmission"), port, requireEncryption: true
      })
      yield* seeder.waitFor("verified data", () => transmissionComplete(seeder), "60 seconds")
      yield* seeder.waitFor("seeding status", () => transmissionRunning(seeder), "30 seconds")
      // Transmission unchokes on its 10 s rechoke pulse
      assertEncrypted(yield* downloadFrom(out, src, meta, port, 90))
    }))

  liveWith(installed.transmission)("a Transmission leecher that requires encryption downloads from us (we dial it)", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 256 * 1024)
      const port = yield* freePort
      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* transmission("transmission leecher (encryption required)", {
          torrent: torrentPath, dir: out, configDir: join(work, "transmission"), port, requireEncryption: true
        })
        yield* leecher.waitFor("running torrent", () => transmissionRunning(leecher), "30 seconds")
        yield* ours.torrent.addPeers([local(port)])
        yield* leecher.waitFor("download complete", () => transmissionComplete(leecher), "90 seconds")
        yield* uploadedAll(ours.torrent, ALBUM_BYTES)
        assertEncrypted(ours.events)
      }))
      yield* assertSameData(meta, src, out, { skipEmpty: true })
    }))

  liveWith(installed.libtorrent)("our client requiring encryption, with a stock libtorrent both ways", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      const seeder = yield* ltPeer("stock libtorrent seeder", "seed", { torrent: torrentPath, save: src })
      assertEncrypted(yield* downloadFrom(out, src, meta, seeder.port, 60, { encryption: "require" }))
      const back = join(work, "back")
      yield* withClient(work, Effect.gen(function*() {
        const ours = yield* seedFrom(src, meta, ALBUM_BYTES)
        const leecher = yield* ltPeer("stock libtorrent leecher", "leech", { torrent: torrentPath, save: back, connect: [ours.port] })
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "60 seconds")
        assertEncrypted(ours.events)
      }), { encryption: "require" })
      yield* assertSameData(meta, src, back)
    }))

  liveWith(installed.libtorrent)("a libtorrent that refuses MSE: our MSE opening fails, the plaintext retry completes", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 64 * 1024)
      const seeder = yield* ltPeer("libtorrent seeder (MSE disabled)", "seed", { torrent: torrentPath, save: src, disableEncryption: true })
      const events = yield* downloadFrom(out, src, meta, seeder.port, 60)
      assertEncrypted(events, false)
      // one dial: no PeerDisconnected before the session (the retry happened inside the dial)
      assert.strictEqual(events.filter((e) => e._tag === "PeerConnected").length, 1)
    }))
})
