/**
 * `effect-torrent serve` from the outside, as users run it: the real executable, driven by
 * transmission-remote (Debian's transmission-cli) and by headless Chromium (Debian's
 * chromium through playwright-core), downloading from a libtorrent seeder found through
 * the bittorrent-tracker server, all on 127.0.0.1. The page's status text of a magnet fetching
 * its metadata and of a v2 .torrent fetching its piece layers is read in Chromium too (our
 * seeder behind a relay that holds the daemon's connection until the text was seen).
 */
import { assert, describe } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Scope } from "effect"
import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { TorrentDetail, TorrentSummary } from "../../src/daemon/model.ts"
import { createTorrent } from "../../src/metainfo/create.ts"
import { formatMagnet, toTorrentFile } from "../../src/metainfo/index.ts"
import { tempDir, writePayload } from "../support/files.ts"
import { gateRelay } from "../support/gate-relay.ts"
import { liveWith } from "../support/requirements.ts"
import { startSeeder } from "../support/seeding.ts"
import { makeTorrent } from "../support/torrent-fixture.ts"
import { eventually, waitUntil } from "../support/waiting.ts"
import { bittorrentTracker } from "../support/tracker-server.ts"
import { installed } from "./support/available.ts"
import { serveProcess, transmissionRemote } from "./support/daemon.ts"
import { readTorrent, workspace } from "./support/harness.ts"
import { ltCreate, ltPeer } from "./support/peers.ts"

const SHOW = { "show/episode.mkv": 5_000_001, "show/notes.txt": 1234 }

/** Asks `look` until `ok` holds (support/waiting.ts: a condition with a deadline, not a sleep). */
const until = <A, E>(what: string, look: Effect.Effect<A, E>, ok: (a: A) => boolean, seconds = 90) => eventually(what, look, ok, seconds)

describe("interop: the daemon", () => {
  liveWith(installed.libtorrent, installed.transmissionRemote)(
    "transmission-remote adds a .torrent that completes from libtorrent; the API lists it, a Range streams exact bytes, /metrics; SIGTERM, restart: back complete without downloading; stop, start, remove",
    () =>
      Effect.gen(function*() {
        const tracker = yield* bittorrentTracker
        const { work, src, out, torrentPath } = yield* workspace(SHOW, "show")
        yield* ltCreate(join(src, "show"), torrentPath, { pieceLength: 256 * 1024, tracker: tracker.http })
        const { meta } = yield* readTorrent(torrentPath)
        const hash = Buffer.from(meta.infoHash ?? new Uint8Array(0)).toString("hex")
        const seederScope = yield* Scope.fork(yield* Effect.scope)
        yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src }).pipe(Scope.provide(seederScope))
        const state = join(work, "state")
        const daemonScope = yield* Scope.fork(yield* Effect.scope)
        const daemon = yield* serveProcess({ state, out }).pipe(Scope.provide(daemonScope))

        const added = yield* transmissionRemote(daemon.hostPort, ["-a", torrentPath])
        assert.include(added, "success")
        const listed = yield* until("100% in transmission-remote -l", transmissionRemote(daemon.hostPort, ["-l"]), (o) => /^\s*1\s+100%.*(Seeding|Idle)\s+show\s*$/m.test(o))
        assert.match(listed, /Sum:/)

        // the native API lists it
        const list = yield* daemon.api<ReadonlyArray<TorrentSummary>>("/api/torrents")
        assert.deepStrictEqual(list.map((t) => [t.infoHash, t.progress, t.status]), [[hash, 1, "seeding"]])
        const detail = yield* daemon.api<TorrentDetail>(`/api/torrents/${hash}`)
        const episode = detail.files.findIndex((f) => f.path === "show/episode.mkv")

        // a Range request streams exact bytes
        const original = yield* Effect.promise(() => readFile(join(src, "show", "episode.mkv")))
        const ranged = yield* Effect.promise(async () => {
          const res = await fetch(`${daemon.url}/api/torrents/${hash}/files/${episode}?token=${daemon.token}`, { headers: { range: "bytes=1000000-3999999" } })
          return { status: res.status, range: res.headers.get("content-range"), body: Buffer.from(await res.arrayBuffer()) }
        })
        assert.strictEqual(ranged.status, 206)
        assert.strictEqual(ranged.range, `bytes 1000000-3999999/${original.length}`)
        assert.isTrue(ranged.body.equals(original.subarray(1_000_000, 4_000_000)))

        // /metrics
        // sampled once a second: wait for the sample after completion
        const metrics = yield* until("downloaded bytes in /metrics", Effect.promise(() => fetch(`${daemon.url}/metrics`).then((r) => r.text())), (t) =>
          /^effect_torrent_downloaded_bytes_total\S* [1-9]/m.test(t) && /^effect_torrent_torrents\{state="seeding"\} 1$/m.test(t), 10)
        assert.match(metrics, /^effect_torrent_torrents\{state="seeding"\} 1$/m)
        assert.match(metrics, /^effect_torrent_piece_verify_seconds_count\S* [1-9]/m)

        // SIGTERM: a clean exit; the seeder goes too, so nothing could be downloaded again
        process.kill(daemon.proc.pid, "SIGTERM")
        assert.strictEqual(yield* daemon.proc.waitExit("30 seconds"), 0)
        yield* Scope.close(seederScope, { _tag: "Success", value: undefined } as never)
        const again = yield* serveProcess({ state, out })
        const back = yield* again.api<TorrentSummary>(`/api/torrents/${hash}`)
        assert.deepStrictEqual([back.progress, back.status, back.downloaded], [1, "seeding", 0])

        // stop, start, remove through transmission-remote ("Idle": seeding, but nobody is downloading from us)
        yield* transmissionRemote(again.hostPort, ["-t", "1", "-S"])
        yield* until("Stopped", transmissionRemote(again.hostPort, ["-l"]), (o) => /^\s*1\s+100%.*Stopped\s+show\s*$/m.test(o), 10)
        yield* transmissionRemote(again.hostPort, ["-t", "1", "-s"])
        yield* until("Seeding", transmissionRemote(again.hostPort, ["-l"]), (o) => /^\s*1\s+100%.*(Seeding|Idle)\s+show\s*$/m.test(o), 10)
        yield* transmissionRemote(again.hostPort, ["-t", "1", "-r"])
        const empty = yield* transmissionRemote(again.hostPort, ["-l"])
        assert.notMatch(empty, /show/)
        assert.deepStrictEqual(yield* again.api<ReadonlyArray<TorrentSummary>>("/api/torrents"), [])
      }),
    240_000
  )
})

describe("interop: the web UI in headless Chromium", () => {
  liveWith(installed.libtorrent, installed.chromium)(
    "adds a .torrent through the page, watches it reach 100% from libtorrent, opens the detail and a stream link",
    () =>
      Effect.gen(function*() {
        const { chromium } = yield* Effect.promise(() => import("playwright-core"))
        const tracker = yield* bittorrentTracker
        const { work, src, out, torrentPath } = yield* workspace({ "clip/movie.mp4": 3_000_000, "clip/readme.txt": 5000 }, "clip")
        yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.writeFile(join(src, "clip", "readme.txt"), "hello from the swarm\n".repeat(200))))
        yield* ltCreate(join(src, "clip"), torrentPath, { pieceLength: 64 * 1024, tracker: tracker.http })
        yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src })
        const daemon = yield* serveProcess({ state: join(work, "state"), out })
        const browser = yield* Effect.acquireRelease(
          Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })),
          (b) => Effect.promise(() => b.close())
        )
        const page = yield* Effect.promise(() => browser.newPage())
        const text = yield* Effect.promise(async () => {
          await page.goto(`${daemon.url}/`)
          await page.waitForSelector("#live.on")
          await page.setInputFiles("#file", torrentPath)
          const row = page.locator("#torrents tr", { hasText: "clip" })
          await row.locator(".pct", { hasText: "100.0%" }).waitFor({ timeout: 90_000 })
          await row.locator("td.name").click()
          await page.locator("#files tbody tr").nth(1).waitFor()
          const readme = page.locator("#files tbody tr", { hasText: "clip/readme.txt" })
          const href = await readme.locator("a.stream").getAttribute("href")
          const checked = await readme.locator("input[type=checkbox]").isChecked()
          await page.goto(`${daemon.url}${href ?? ""}`)
          return { body: await page.locator("body").innerText(), checked }
        })
        assert.isTrue(text.checked)
        assert.strictEqual(text.body.trim(), "hello from the swarm\n".repeat(200).trim())
      }),
    240_000
  )

  liveWith(installed.chromium)(
    "the status column says what a torrent fetches before it opens: fetching metadata (0 peers) for a magnet, then 100%; fetching piece layers 0/1 files (0 peers) for a bare v2 .torrent",
    () =>
      Effect.gen(function*() {
        const { chromium } = yield* Effect.promise(() => import("playwright-core"))
        const fixture = yield* makeTorrent(yield* tempDir("et-ui-phase-src-"), "album", { "01.flac": 300 * 1024, "02.flac": 90 * 1024 }, 32 * 1024)
        const seeder = yield* startSeeder(fixture)
        const relay = yield* gateRelay(seeder.port)
        const magnet = formatMagnet({
          infoHash: fixture.infoHash, infoHashV2: null, name: "album", trackers: [], webSeeds: [], peers: [{ host: "127.0.0.1", port: relay.port }], selectOnly: null
        })
        // a v2 .torrent without piece layers nor any peer source: it stays in its fetch
        const v2 = yield* tempDir("et-ui-phase-v2-")
        yield* writePayload(join(v2, "v2bare"), { "big.bin": 200 * 1024, "small.bin": 1000 })
        const created = yield* createTorrent(join(v2, "v2bare"), { pieceLength: 16 * 1024, format: "v2" }).pipe(Effect.provide(NodeFileSystem.layer))
        const barePath = join(v2, "v2bare.torrent")
        yield* Effect.promise(() => writeFile(barePath, toTorrentFile({ ...created.metainfo, pieceLayers: new Map() })))
        const work = yield* tempDir("et-ui-phase-")
        const daemon = yield* serveProcess({ state: join(work, "state"), out: join(work, "out") })
        const browser = yield* Effect.acquireRelease(
          Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })),
          (b) => Effect.promise(() => b.close())
        )
        const page = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(async () => {
          await page.goto(`${daemon.url}/`)
          await page.waitForSelector("#live.on")
          await page.fill("#magnet", magnet)
          await page.click("#add button[type=submit]")
          await page.locator("#torrents tr", { hasText: "album" }).locator("td.status", { hasText: "fetching metadata (0 peers)" }).waitFor({ timeout: 20_000 })
          await page.setInputFiles("#file", barePath)
          await page.locator("#torrents tr", { hasText: "v2bare" }).locator("td.status", { hasText: "fetching piece layers 0/1 files (0 peers)" }).waitFor({ timeout: 20_000 })
        })
        yield* waitUntil("the daemon dialling the relay", () => relay.connections() > 0, 10)
        yield* relay.open
        const status = yield* Effect.promise(async () => {
          const row = page.locator("#torrents tr", { hasText: "album" })
          await row.locator(".pct", { hasText: "100.0%" }).waitFor({ timeout: 60_000 })
          await row.locator("td.status", { hasText: "seeding" }).waitFor({ timeout: 20_000 })
          return row.locator("td.status").innerText()
        })
        assert.strictEqual(status, "seeding")
      }),
    120_000
  )
})
