/**
 * The daemon end to end on 127.0.0.1: a WebTorrent seeder (a client nobody here wrote)
 * behind the bittorrent-tracker server, the daemon adding its .torrent through the JSON
 * API, downloading, streaming exact byte ranges, /metrics, the event stream, and a restart
 * on the same state directory that brings the torrent back complete without downloading.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { TorrentDetail, TorrentSummary } from "../src/daemon/model.ts"
import { startDaemon, until } from "./support/daemon.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"
import { startSeeder } from "./support/seeding.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"
import { existsSync } from "node:fs"

const KiB = 1024

describe("daemon: JSON API, streaming, metrics, restart", () => {
  it.live("downloads a torrent added through the API from WebTorrent, streams it, and comes back complete after a restart", () =>
    Effect.gen(function*() {
      const tracker = yield* bittorrentTracker
      const source = yield* tempDir("et-daemon-src-")
      yield* writePayload(join(source, "show"), { "episode.mkv": 2 * 1024 * KiB + 77, "notes.txt": 5 * KiB })
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "show"), { announce: [tracker.http], pieceLength: 64 * KiB })
      const state = yield* tempDir("et-daemon-state-")
      const downloads = yield* tempDir("et-daemon-out-")
      const daemon = yield* startDaemon({ stateDirectory: state, downloadDirectory: downloads })

      // add by upload (raw .torrent body), then see it listed
      const added = yield* Effect.promise(() =>
        daemon.json<TorrentSummary>("/api/torrents/upload", { method: "POST", headers: { "content-type": "application/x-bittorrent" }, body: Buffer.from(torrentFile) })
      )
      assert.strictEqual(added.name, "show")
      const list = yield* Effect.promise(() => daemon.json<ReadonlyArray<TorrentSummary>>("/api/torrents"))
      assert.deepStrictEqual(list.map((t) => t.infoHash), [added.infoHash])
      const done = yield* until("100%", () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`), (t) => t.progress === 1, 60)
      assert.strictEqual(done.status, "seeding")

      const detail = yield* Effect.promise(() => daemon.json<TorrentDetail>(`/api/torrents/${added.infoHash}`))
      const episode = detail.files.findIndex((f) => f.path === "show/episode.mkv")
      assert.isAtLeast(episode, 0)
      assert.strictEqual(detail.files[episode]?.completed, 2 * 1024 * KiB + 77)
      assert.strictEqual(Buffer.from(detail.pieces, "base64").length, Math.ceil(detail.pieceCount / 8))
      assert.deepStrictEqual(detail.trackers.map((t) => t.url), [tracker.http])

      // a Range request streams exact bytes
      const original = yield* Effect.promise(() => readFile(join(source, "show", "episode.mkv")))
      const ranged = yield* Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}/files/${episode}`, { headers: { range: "bytes=100000-1200000" } }))
      assert.strictEqual(ranged.status, 206)
      assert.strictEqual(ranged.headers.get("content-range"), `bytes 100000-1200000/${original.length}`)
      assert.strictEqual(ranged.headers.get("content-type"), "video/x-matroska")
      const body = Buffer.from(yield* Effect.promise(() => ranged.arrayBuffer()))
      assert.isTrue(body.equals(original.subarray(100000, 1200001)))
      const suffix = yield* Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}/files/${episode}`, { headers: { range: "bytes=-10" } }))
      assert.isTrue(Buffer.from(yield* Effect.promise(() => suffix.arrayBuffer())).equals(original.subarray(original.length - 10)))
      const outside = yield* Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}/files/${episode}`, { headers: { range: `bytes=${original.length}-` } }))
      assert.strictEqual(outside.status, 416)
      assert.strictEqual(outside.headers.get("content-range"), `bytes */${original.length}`)
      const whole = yield* Effect.promise(() => fetch(`${daemon.url}/api/torrents/${added.infoHash}/files/${episode}?token=${daemon.token}`))
      assert.strictEqual(whole.status, 200)
      assert.isTrue(Buffer.from(yield* Effect.promise(() => whole.arrayBuffer())).equals(original))
      const missing = yield* Effect.promise(() => daemon.request(`/api/torrents/${added.infoHash}/files/9`))
      assert.strictEqual(missing.status, 404)

      // metrics: Effect's registry in Prometheus text, our prefix
      const metrics = yield* until("metrics", () => daemon.request("/metrics").then((r) => r.text()), (t) => /effect_torrent_downloaded_bytes_total\S* [1-9]/.test(t))
      assert.match(metrics, /effect_torrent_torrents\{state="seeding"\} 1/)
      assert.match(metrics, /effect_torrent_peers_connected\{[^}]*transport="tcp"/)
      assert.match(metrics, /effect_torrent_piece_verify_seconds_bucket/)
      assert.match(metrics, /effect_torrent_hash_failures_total/)

      // the event stream starts with the list
      const events = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const res = await fetch(`${daemon.url}/api/events?token=${daemon.token}`, { signal: controller.signal })
        assert.strictEqual(res.headers.get("content-type"), "text/event-stream")
        const reader = res.body?.getReader()
        let text = ""
        while (reader !== undefined && !text.includes("\n\n")) {
          const chunk = await reader.read()
          if (chunk.done) break
          text += new TextDecoder().decode(chunk.value)
        }
        controller.abort()
        return text
      })
      assert.match(events, /^event: torrents\ndata: \[/)
      assert.include(events, added.infoHash)

      // SIGTERM-like stop, then a restart on the same state: back, complete, nothing downloaded
      yield* daemon.stop
      // the resume record went to the state directory: the restart trusts it instead of re-hashing
      const record = JSON.parse(yield* Effect.promise(() => readFile(join(state, "resume", `${added.infoHash}.resume`), "utf8"))) as { have: string }
      assert.match(record.have, /^f+/)
      const again = yield* startDaemon({ stateDirectory: state, downloadDirectory: downloads })
      const back = yield* Effect.promise(() => again.json<TorrentSummary>(`/api/torrents/${added.infoHash}`))
      assert.strictEqual(back.progress, 1)
      assert.strictEqual(back.status, "seeding")
      assert.strictEqual(back.downloaded, 0)
      assert.strictEqual(back.id, added.id)
    }), 120_000)

  it.live("a magnet link: listed while its metadata is fetched, then downloaded, kept in the state as a .torrent", () =>
    Effect.gen(function*() {
      const fixture = yield* makeTorrent(yield* tempDir("et-daemon-mag-src-"), "pack", { "a.bin": 200 * KiB, "b.bin": 90 * KiB }, 32 * KiB)
      const seeder = yield* startSeeder(fixture)
      const state = yield* tempDir("et-daemon-mag-state-")
      const daemon = yield* startDaemon({ stateDirectory: state, downloadDirectory: yield* tempDir("et-daemon-mag-out-") })
      const hash = Buffer.from(fixture.infoHash).toString("hex")
      const magnet = `magnet:?xt=urn:btih:${hash}&dn=pack&x.pe=127.0.0.1:${seeder.port}`
      const added = yield* Effect.promise(() =>
        daemon.json<TorrentSummary>("/api/torrents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ magnet }) })
      )
      assert.strictEqual(added.infoHash, hash)
      assert.strictEqual(added.status, "metadata")
      const done = yield* until("100%", () => daemon.json<TorrentSummary>(`/api/torrents/${hash}`), (t) => t.progress === 1)
      assert.strictEqual(done.name, "pack")
      assert.isTrue(existsSync(join(state, "torrents", `${hash}.torrent`)))
      const again = yield* Effect.promise(() =>
        daemon.request("/api/torrents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ magnet }) })
      )
      assert.strictEqual(again.status, 409)
      const bad = yield* Effect.promise(() =>
        daemon.request("/api/torrents", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ magnet: "magnet:?xt=nope" }) })
      )
      assert.strictEqual(bad.status, 400)
    }))
})
