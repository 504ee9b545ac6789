/**
 * A pause and a resume keep a torrent's peers, as libtorrent and Transmission keep their
 * peer list: the resumed torrent dials again the peers it knew, whether they came from a
 * magnet link's x.pe, from `peers` given with a .torrent (the CLI's `--peer`) or from a
 * tracker (which is announced to again). Real daemon or client, our own client as the
 * seeder, all on 127.0.0.1. The leecher downloads under a rate limit so it is still
 * downloading when paused; the limit is lifted at the end and the data compared.
 *
 * Completion also checks that a pause loses no block: one the picker counted received but
 * whose store had not started when the session was interrupted once left its piece
 * incomplete for good (1 run in ~8 under load; test/peer-session-end.test.ts pins it).
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, SubscriptionRef } from "effect"
import { join } from "node:path"
import type { TorrentSummary } from "../src/daemon/model.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet } from "../src/metainfo/index.ts"
import type { Torrent } from "../src/torrent/index.ts"
import { startDaemon, until } from "./support/daemon.ts"
import { startClient, startNodeClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { startSeeder } from "./support/seeding.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"
import { eventually } from "./support/waiting.ts"

const KiB = 1024
/** Slow enough that 1 MiB is far from done when the test pauses. */
const SLOW = 16 * KiB

const fixtureOf = (name: string) =>
  Effect.gen(function*() {
    return yield* makeTorrent(yield* tempDir("et-pause-src-"), name, { "a.bin": 700 * KiB, "b.bin": 330 * KiB }, 16 * KiB)
  })

/** Pauses `torrent` once it has a peer, sees it drop them, resumes it and sees a peer again. */
const pauseAndResume = (torrent: Torrent) =>
  Effect.gen(function*() {
    yield* eventually("a peer", SubscriptionRef.get(torrent.state), (s) => s.peers > 0 && s.status === "downloading", 15)
    yield* torrent.pause
    yield* eventually("no peers while paused", SubscriptionRef.get(torrent.state), (s) => s.peers === 0 && s.status === "paused", 10)
    yield* torrent.resume
    // without the fix the peer book still counted the peer as connected: never dialled again
    yield* eventually("a peer again after resume", SubscriptionRef.get(torrent.state), (s) => s.peers > 0, 10)
  })

describe("pause and resume keep a torrent's peers", () => {
  it.live("daemon: a magnet whose only peer is its x.pe, paused right after it opens and resumed, connects again and completes", () =>
    Effect.gen(function*() {
      const fixture = yield* fixtureOf("xpe")
      const seeder = yield* startSeeder(fixture)
      const out = yield* tempDir("et-pause-out-")
      const daemon = yield* startDaemon({ stateDirectory: yield* tempDir("et-pause-state-"), downloadDirectory: out })
      const magnet = formatMagnet({
        infoHash: fixture.infoHash, infoHashV2: null, name: null, trackers: [], webSeeds: [], peers: [{ host: "127.0.0.1", port: seeder.port }], selectOnly: null
      })
      const json = { method: "POST", headers: { "content-type": "application/json" } }
      yield* Effect.promise(() => daemon.json("/api/session/limits", { ...json, method: "PATCH", body: JSON.stringify({ download: SLOW }) }))
      const added = yield* Effect.promise(() => daemon.json<TorrentSummary>("/api/torrents", { ...json, body: JSON.stringify({ magnet }) }))
      const summary = () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`)
      const post = (path: string) => Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}${path}`, { method: "POST" }))

      yield* until("downloading from the x.pe peer", summary, (t) => t.status === "downloading" && t.peers > 0, 30)
      yield* post("/pause")
      yield* until("paused without peers", summary, (t) => t.status === "paused" && t.peers === 0, 10)
      yield* post("/resume")
      const back = yield* until("the x.pe peer again", summary, (t) => t.peers > 0, 10)
      assert.strictEqual(back.status, "downloading")

      yield* Effect.promise(() => daemon.json("/api/session/limits", { ...json, method: "PATCH", body: JSON.stringify({ download: null }) }))
      yield* until("seeding", summary, (t) => t.status === "seeding", 30)
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, fixture.root, out), [])
    }))

  it.live("library: a .torrent added with `peers` (the CLI's --peer) connects to them again after pause and resume", () =>
    Effect.gen(function*() {
      const fixture = yield* fixtureOf("given")
      const seeder = yield* startSeeder(fixture)
      const out = yield* tempDir("et-pause-out-")
      const client = yield* startClient(out)
      yield* client.setLimits({ download: SLOW })
      const torrent = yield* client.add(fixture.torrent, { peers: [{ host: "127.0.0.1", port: seeder.port }] })
      yield* pauseAndResume(torrent)
      yield* client.setLimits({ download: null })
      yield* torrent.whenComplete
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, fixture.root, out), [])
    }))

  it.live("library: a torrent whose peer came from a tracker announces again on resume and connects to it again", () =>
    Effect.gen(function*() {
      const tracker = yield* bittorrentTracker
      const base = yield* fixtureOf("tracked")
      // the same payload with the tracker in its .torrent
      const created = yield* createTorrent(join(base.root, "tracked"), { pieceLength: 16 * KiB, trackers: [[tracker.http]] }).pipe(Effect.provide(NodeFileSystem.layer))
      const fixture = { ...base, torrent: created.torrent, metainfo: created.metainfo }
      let started = 0
      tracker.server.on("start", () => { started++ })

      const seederClient = yield* startNodeClient(fixture.root, { host: "127.0.0.1", dht: undefined, lsd: false })
      const seeding = yield* seederClient.add(fixture.torrent)
      yield* seeding.whenComplete
      const out = yield* tempDir("et-pause-out-")
      const client = yield* startNodeClient(out, { host: "127.0.0.1", dht: undefined, lsd: false })
      yield* client.setLimits({ download: SLOW })
      const torrent = yield* client.add(fixture.torrent)
      yield* eventually("both announced", Effect.sync(() => started), (n) => n >= 2, 15)
      const before = started
      yield* pauseAndResume(torrent)
      assert.isAbove(started, before, "the resumed torrent announced `started` again")
      yield* client.setLimits({ download: null })
      yield* torrent.whenComplete
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, fixture.root, out), [])
    }))
})
