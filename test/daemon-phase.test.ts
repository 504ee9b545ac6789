/**
 * What the daemon shows while a torrent fetches what it needs before it opens: a magnet's
 * info dict (`metadata`) and a bare v2 .torrent's piece layers (`pieceLayers`), in the JSON
 * API and in Transmission RPC (`metadataPercentComplete`, `status`). Real daemon, our own
 * client as the seeder, all on 127.0.0.1. The seeder is reached through a relay that holds
 * the daemon's connection until the test has seen the phase (support/gate-relay.ts): the
 * phase stands still without a timer, then the real exchange goes through.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect } from "effect"
import { join } from "node:path"
import type { TorrentSummary } from "../src/daemon/model.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet, toTorrentFile, wireInfoHash } from "../src/metainfo/index.ts"
import { startDaemon, type RunningDaemon, until } from "./support/daemon.ts"
import { startClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { gateRelay } from "./support/gate-relay.ts"
import { startSeeder } from "./support/seeding.ts"
import { announceSeed, bittorrentTracker } from "./support/tracker-server.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"
import { waitUntil } from "./support/waiting.ts"

const KiB = 1024

/** torrent-get over Transmission RPC (with its 409 session-id exchange) for one torrent's fields. */
const transmissionGet = (daemon: RunningDaemon, fields: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const url = `${daemon.url}/transmission/rpc`
    const body = JSON.stringify({ method: "torrent-get", arguments: { fields } })
    const first = await fetch(url, { method: "POST", body })
    const session = first.headers.get("x-transmission-session-id") ?? ""
    const res = await fetch(url, { method: "POST", headers: { "x-transmission-session-id": session }, body })
    const reply = (await res.json()) as { arguments: { torrents: Array<Record<string, unknown>> } }
    return reply.arguments.torrents[0] ?? {}
  })

/**
 * Our seeder of a small v1 torrent behind a closed relay, a daemon (or the one given), and the
 * seeder's magnet (x.pe = the relay) added over the API; unless added paused, the daemon has
 * dialled the relay on return.
 */
const magnetBehindRelay = (options: { readonly paused?: boolean; readonly daemon?: RunningDaemon } = {}) => Effect.gen(function*() {
  const fixture = yield* makeTorrent(yield* tempDir("et-phase-src-"), "album", { "01.flac": 300 * KiB, "02.flac": 90 * KiB }, 32 * KiB)
  const seeder = yield* startSeeder(fixture)
  const relay = yield* gateRelay(seeder.port)
  const out = yield* tempDir("et-phase-out-")
  const daemon = options.daemon ?? (yield* startDaemon({ stateDirectory: yield* tempDir("et-phase-state-"), downloadDirectory: out }))
  const magnet = formatMagnet({
    infoHash: fixture.infoHash, infoHashV2: null, name: null, trackers: [], webSeeds: [], peers: [{ host: "127.0.0.1", port: relay.port }], selectOnly: null
  })
  const added = yield* Effect.promise(() =>
    daemon.json<TorrentSummary>("/api/torrents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ magnet, paused: options.paused ?? false }) })
  )
  assert.strictEqual(added.status, options.paused === true ? "paused" : "metadata")
  // the daemon has dialled the seeder's address and waits for its handshake
  if (options.paused !== true) yield* waitUntil("the daemon dialling the relay", () => relay.connections() > 0, 10)
  const summary = () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`)
  const post = (path: string, body?: unknown) =>
    Effect.promise(() =>
      daemon.request(`/api/torrents/${added.infoHash}${path}`, {
        method: body === undefined ? "POST" : "PATCH",
        ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      })
    ).pipe(Effect.map((res) => assert.isTrue(res.ok, path)))
  return { fixture, relay, out, daemon, summary, post }
})

describe("daemon: the phase before a torrent opens", () => {
  it.live("a magnet shows `metadata` (API) and metadataPercentComplete 0, status 4 (Transmission RPC), then `downloading` (limit set meanwhile) and seeds, with 1", () =>
    Effect.gen(function*() {
      const { fixture, relay, out, daemon, summary, post } = yield* magnetBehindRelay()
      const fetching = yield* Effect.promise(summary)
      assert.deepStrictEqual([fetching.status, fetching.fetch], ["metadata", { peers: 0, done: 0, total: 0 }])
      const rpcFetching = yield* transmissionGet(daemon, ["status", "metadataPercentComplete", "percentDone"])
      assert.deepStrictEqual(rpcFetching, { status: 4, metadataPercentComplete: 0, percentDone: 0 })

      // a limit set now is on the record only: the torrent gets it once it opens
      yield* post("/limits", { download: 32 * KiB })
      yield* relay.open
      const downloading = yield* until("downloading", summary, (t) => t.status === "downloading", 30)
      assert.deepStrictEqual([downloading.fetch, downloading.name], [null, "album"])
      const rpcDownloading = yield* transmissionGet(daemon, ["status", "metadataPercentComplete", "downloadLimit", "downloadLimited"])
      assert.deepStrictEqual(rpcDownloading, { status: 4, metadataPercentComplete: 1, downloadLimit: 32, downloadLimited: true })
      yield* post("/limits", { download: null })
      const done = yield* until("seeding", summary, (t) => t.status === "seeding", 30)
      assert.deepStrictEqual([done.progress, done.fetch, done.name], [1, null, "album"])
      const rpcDone = yield* transmissionGet(daemon, ["status", "metadataPercentComplete", "percentDone"])
      assert.deepStrictEqual(rpcDone, { status: 6, metadataPercentComplete: 1, percentDone: 1 })
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, fixture.root, out), [])
    }))

  it.live("a magnet paused while it fetches its metadata stops fetching (status paused, Transmission 0) and fetches again on resume", () =>
    Effect.gen(function*() {
      const { fixture, relay, out, daemon, summary, post } = yield* magnetBehindRelay()
      yield* post("/pause")
      const paused = yield* Effect.promise(summary)
      assert.deepStrictEqual([paused.status, paused.fetch, paused.peers], ["paused", null, 0])
      const rpc = yield* transmissionGet(daemon, ["status", "metadataPercentComplete", "percentDone"])
      assert.deepStrictEqual(rpc, { status: 0, metadataPercentComplete: 0, percentDone: 0 })
      // the daemon hangs up on the peer it was asking: nothing on the network while paused
      yield* waitUntil("the daemon closing its connection to the relay", () => relay.live() === 0, 10)
      yield* relay.open
      const dialled = relay.connections()
      yield* post("/resume")
      yield* waitUntil("the daemon dialling the relay again", () => relay.connections() > dialled, 10)
      const done = yield* until("seeding", summary, (t) => t.status === "seeding", 30)
      assert.deepStrictEqual([done.progress, done.fetch, done.name], [1, null, "album"])
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, fixture.root, out), [])
    }))

  it.live("a magnet added paused fetches nothing until resumed (another one added after it has dialled meanwhile)", () =>
    Effect.gen(function*() {
      const first = yield* magnetBehindRelay({ paused: true })
      assert.deepStrictEqual((yield* Effect.promise(first.summary)).fetch, null)
      // a magnet added after the paused one is dialled: had the paused one fetched, it would have dialled first
      const second = yield* magnetBehindRelay({ daemon: first.daemon })
      assert.isAbove(second.relay.connections(), 0)
      assert.strictEqual(first.relay.connections(), 0, "the paused magnet dialled nobody")
      const rpc = yield* transmissionGet(first.daemon, ["status", "metadataPercentComplete"])
      assert.deepStrictEqual(rpc, { status: 0, metadataPercentComplete: 0 })
      yield* first.relay.open
      yield* first.post("/resume")
      yield* until("seeding", first.summary, (t) => t.status === "seeding", 30)
      assert.deepStrictEqual(yield* differingFiles(first.fixture.metainfo, first.fixture.root, first.out), [])
    }))

  it.live("a v2 .torrent without piece layers is added at once, shows `pieceLayers` 0/1 files, stops that fetch while paused, then downloads from the peer the tracker names", () =>
    Effect.gen(function*() {
      const source = yield* tempDir("et-phase-v2-")
      yield* writePayload(join(source, "seed", "v2set"), { "big.bin": 600 * KiB, "small.bin": 10 * KiB })
      const created = yield* createTorrent(join(source, "seed", "v2set"), { pieceLength: 16 * KiB, format: "v2" }).pipe(Effect.provide(NodeFileSystem.layer))
      const seederClient = yield* startClient(join(source, "seed"))
      yield* (yield* seederClient.add(created.torrent)).whenComplete
      const relay = yield* gateRelay(seederClient.port ?? 0)
      // the tracker names the relay as the torrent's peer
      const tracker = yield* bittorrentTracker
      yield* announceSeed(tracker, wireInfoHash(created.metainfo), relay.port)
      // a .torrent as BEP 52 allows it: the info dict and a tracker, no piece layers
      const bare = toTorrentFile({ ...created.metainfo, trackers: [[tracker.http]], pieceLayers: new Map() })

      const out = yield* tempDir("et-phase-v2-out-")
      const daemon = yield* startDaemon({ stateDirectory: yield* tempDir("et-phase-v2-state-"), downloadDirectory: out })
      const added = yield* Effect.promise(() =>
        daemon.json<TorrentSummary>("/api/torrents/upload", { method: "POST", headers: { "content-type": "application/x-bittorrent" }, body: Buffer.from(bare) })
      )
      assert.strictEqual(added.name, "v2set")
      yield* waitUntil("the daemon dialling the relay", () => relay.connections() > 0, 10)
      const fetching = yield* until("pieceLayers", () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`), (t) => t.status === "pieceLayers", 10)
      assert.deepStrictEqual(fetching.fetch, { peers: 0, done: 0, total: 1 })
      const rpcFetching = yield* transmissionGet(daemon, ["status", "metadataPercentComplete"])
      assert.deepStrictEqual(rpcFetching, { status: 4, metadataPercentComplete: 1 })

      // paused, it hangs up on the peer it asked for the layers; resumed, it asks again
      const post = (path: string) => Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}${path}`, { method: "POST" }))
      yield* post("/pause")
      const paused = yield* Effect.promise(() => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`))
      assert.deepStrictEqual([paused.status, paused.fetch], ["paused", null])
      assert.deepStrictEqual(yield* transmissionGet(daemon, ["status", "metadataPercentComplete"]), { status: 0, metadataPercentComplete: 1 })
      yield* waitUntil("the daemon closing its connection to the relay", () => relay.live() === 0, 10)
      yield* relay.open
      const dialled = relay.connections()
      yield* post("/resume")
      yield* waitUntil("the daemon dialling the relay again", () => relay.connections() > dialled, 10)
      const done = yield* until("seeding", () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`), (t) => t.status === "seeding", 30)
      assert.deepStrictEqual([done.progress, done.fetch], [1, null])
      assert.deepStrictEqual(yield* differingFiles(created.metainfo, join(source, "seed"), out), [])
    }))
})
