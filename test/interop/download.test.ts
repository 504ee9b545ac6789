/**
 * Our client downloads from real reference clients (python3-libtorrent, aria2,
 * Transmission) over TCP on 127.0.0.1, dialling them directly.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import type { TorrentEvent } from "../../src/torrent/index.ts"
import { tempDir, writePayload } from "../support/files.ts"
import {
  assertSameData,
  awaitComplete,
  eventsUntil,
  awaitState,
  freePort,
  ourTorrent,
  partialCopy,
  readTorrent,
  recordEvents,
  withClient,
  workspace
} from "./support/harness.ts"
import {
  aria2Seed,
  ltCreate,
  type LtPeer,
  ltPeer,
  mktorrent,
  transmission,
  transmissionComplete,
  transmissionRunning
} from "./support/peers.ts"
import { installed } from "./support/available.ts"
import { liveWith } from "../support/requirements.ts"
import { eventually } from "../support/waiting.ts"

// Odd sizes on purpose: files end mid-piece and pieces span file boundaries; one file is empty.
const ALBUM = {
  "album/a.bin": 3_000_001,
  "album/b.bin": 1_234_567,
  "album/empty.dat": 0,
  "album/sub/c.txt": 1000
}
const ALBUM_BYTES = 3_000_001 + 1_234_567 + 1000
const local = (port: number) => ({ host: "127.0.0.1", port })

describe("interop: our client downloads", () => {
  liveWith(installed.libtorrent)("a multi-file torrent made by libtorrent, from a libtorrent seeder", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 256 * 1024 })
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const seeder = yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src })
      assert.strictEqual(seeder.piecesAtStart, meta.pieceCount, "the seeder holds every piece")

      yield* withClient(out, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(bytes, { peers: [local(seeder.port)] })
        yield* awaitComplete(torrent, 60)
        const state = yield* awaitState(torrent, (s) => s.status === "seeding", "seeding")
        assert.strictEqual(state.wantedBytes, ALBUM_BYTES)
        assert.strictEqual(state.piecesVerified, meta.pieceCount)
      }))
      yield* assertSameData(meta, src, out)
      // The bytes really came from libtorrent: it counts at least the whole payload as sent.
      yield* seeder.proc.waitFor("upload counted", () => {
        const s = seeder.stats()
        return s !== undefined && s.uploaded >= ALBUM_BYTES ? s : undefined
      }, "5 seconds")
    }))

  liveWith(installed.aria2, installed.mktorrent)("a multi-file torrent made by mktorrent, from an aria2 seeder", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* mktorrent(join(src, "album"), torrentPath, 18)
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const port = yield* freePort
      yield* aria2Seed({ torrent: torrentPath, dir: src, port })

      yield* withClient(out, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(bytes)
        const events = yield* recordEvents(torrent)
        yield* torrent.addPeers([local(port)])
        yield* awaitComplete(torrent, 60)
        const connected = events.filter((e) => e._tag === "PeerConnected")
        assert.lengthOf(connected, 1, "exactly one peer (aria2) was connected")
        yield* awaitState(torrent, (s) => s.piecesVerified === meta.pieceCount, "every piece verified")
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.transmission)("a multi-file torrent made by our creator, from a Transmission seeder", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 128 * 1024)
      const port = yield* freePort
      const seeder = yield* transmission("transmission seeder", {
        torrent: torrentPath, dir: src, configDir: join(work, "transmission"), port
      })
      // Transmission verifies the data first; "complete" right after that means it seeds.
      yield* seeder.waitFor("verified data", () => transmissionComplete(seeder), "60 seconds")
      yield* seeder.waitFor("seeding status", () => transmissionRunning(seeder), "30 seconds")

      yield* withClient(out, Effect.gen(function*() {
        const client = yield* Client
        // Transmission unchokes on its 10 s rechoke pulse: allow for a few of them.
        const torrent = yield* client.add(meta, { peers: [local(port)] })
        yield* awaitComplete(torrent, 90)
        yield* awaitState(torrent, (s) => s.piecesVerified === meta.pieceCount && s.status === "seeding", "seeding")
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("pieces from three libtorrent seeders that each hold a different part", () =>
    Effect.gen(function*() {
      const work = yield* tempDir("et-interop-")
      const src = join(work, "src")
      const out = join(work, "out")
      const files = { "set/one.bin": 2_500_000, "set/two.bin": 3_100_003, "set/deep/three.bin": 700_000 }
      const total = 2_500_000 + 3_100_003 + 700_000
      yield* writePayload(src, files)
      const torrentPath = join(work, "set.torrent")
      yield* ltCreate(join(src, "set"), torrentPath, { pieceLength: 64 * 1024 })
      const { bytes, meta } = yield* readTorrent(torrentPath)

      // Seeder i lacks every piece p with p % 3 === i: each piece is on exactly two seeders,
      // no seeder has it all, so the download cannot finish from one of them.
      const seeders: Array<LtPeer> = []
      for (let i = 0; i < 3; i++) {
        const dir = join(work, `seed${i}`)
        yield* partialCopy(meta, src, dir, (p) => p % 3 !== i)
        const seeder = yield* ltPeer(`libtorrent partial seeder ${i}`, "seed", { torrent: torrentPath, save: dir })
        const expected = Array.from({ length: meta.pieceCount }, (_, p) => p).filter((p) => p % 3 !== i).length
        assert.strictEqual(seeder.piecesAtStart, expected, `seeder ${i} holds only its part`)
        seeders.push(seeder)
      }

      yield* withClient(out, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(bytes)
        const events = yield* recordEvents(torrent)
        yield* torrent.addPeers(seeders.map((s) => local(s.port)))
        yield* awaitComplete(torrent, 90)
        const connectedTo = (es: ReadonlyArray<TorrentEvent>) => new Set(es.flatMap((e) => (e._tag === "PeerConnected" ? [e.peer] : [])))
        yield* eventsUntil(events, "a connection to each seeder", (es) => connectedTo(es).size >= 3)
        const peers = connectedTo(events)
        assert.strictEqual(peers.size, 3, `connected to every seeder: ${[...peers].join(", ")}`)
        const verified = new Set(events.flatMap((e) => (e._tag === "PieceVerified" ? [e.piece] : [])))
        assert.strictEqual(verified.size, meta.pieceCount, "every piece was verified once")
        assert.isFalse(events.some((e) => e._tag === "HashFailed"), "no piece failed its hash check")
      }))
      yield* assertSameData(meta, src, out)

      // Attribution from the seeders' own counters (stats lines come twice a second, so they may
      // trail the download: wait until they account for all of it).
      const uploaded = yield* eventually(
        "the seeders' counters to account for the whole payload",
        Effect.sync(() => seeders.map((s) => s.stats()?.uploaded ?? 0)),
        (counts) => counts.reduce((a, b) => a + b, 0) >= total,
        10
      )
      yield* Effect.logInfo(`partial seeders sent ${uploaded.join(", ")} bytes`)
      const contributors = uploaded.filter((u) => u > 0).length
      assert.isAtLeast(contributors, 2, `more than one seeder sent data: ${uploaded.join(", ")}`)
      assert.isAtLeast(uploaded.reduce((a, b) => a + b, 0), total, `together they sent the whole payload: ${uploaded.join(", ")}`)
    }))
})
