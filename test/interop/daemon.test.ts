/**
 * `effect-torrent serve` from the outside, as users run it: the real executable, driven by
 * transmission-remote (Debian's transmission-cli) and by headless Chromium (Debian's
 * chromium through playwright-core), downloading from a libtorrent seeder found through
 * the bittorrent-tracker server, all on 127.0.0.1.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Scope } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { TorrentDetail, TorrentSummary } from "../../src/daemon/model.ts"
import { liveWith } from "../support/requirements.ts"
import { bittorrentTracker } from "../support/tracker-server.ts"
import { installed } from "./support/available.ts"
import { serveProcess, transmissionRemote } from "./support/daemon.ts"
import { readTorrent, workspace } from "./support/harness.ts"
import { ltCreate, ltPeer } from "./support/peers.ts"

const SHOW = { "show/episode.mkv": 5_000_001, "show/notes.txt": 1234 }

/** Polls `look` every 200 ms until `ok` holds (a condition, not a sleep). */
const until = <A, E>(what: string, look: Effect.Effect<A, E>, ok: (a: A) => boolean, seconds = 90) =>
  Effect.gen(function*() {
    for (let waited = 0; ; waited += 200) {
      const value = yield* look
      if (ok(value)) return value
      if (waited > seconds * 1000) return yield* Effect.die(new Error(`timed out waiting for ${what}: ${String(value).slice(0, 800)}`))
      yield* Effect.sleep("200 millis")
    }
  })

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
        const metrics = yield* Effect.promise(() => fetch(`${daemon.url}/metrics`).then((r) => r.text()))
        assert.match(metrics, /^effect_torrent_downloaded_bytes_total\S* [1-9]/m)
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
