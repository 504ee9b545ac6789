/**
 * The daemon's per-torrent trace switch, end to end on 127.0.0.1: a torrent added with
 * `trace: true` records what a WebTorrent seeder (found through the bittorrent-tracker
 * server) said into the state directory, readable over the API; switching it off closes the
 * file with every connection's close line, switching it on again appends a new run, and
 * neither switch downloads anything again.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import type { TorrentSummary } from "../src/daemon/model.ts"
import { readTrace, type TraceLine } from "../src/trace/index.ts"
import { startDaemon, until } from "./support/daemon.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const KiB = 1024
const kinds = (lines: ReadonlyArray<TraceLine>) => lines.map((l) => l.ev.type)

describe("daemon: per-torrent trace", () => {
  it.live("added with trace on, the wire is recorded and served; off closes the file, on again appends", () =>
    Effect.gen(function*() {
      const tracker = yield* bittorrentTracker
      const source = yield* tempDir("et-dtrace-src-")
      yield* writePayload(join(source, "clip"), { "a.bin": 700 * KiB + 3 })
      const wt = yield* webTorrentClient
      const torrentFile = yield* seed(wt.client, join(source, "clip"), { announce: [tracker.http], pieceLength: 64 * KiB })
      const state = yield* tempDir("et-dtrace-state-")
      const daemon = yield* startDaemon({ stateDirectory: state, downloadDirectory: yield* tempDir("et-dtrace-out-") })

      const added = yield* Effect.promise(() =>
        daemon.json<TorrentSummary>("/api/torrents", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ torrent: Buffer.from(torrentFile).toString("base64"), trace: true })
        })
      )
      assert.isTrue(added.trace)
      const path = `/api/torrents/${added.infoHash}/trace`
      const done = yield* until("100%", () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`), (t) => t.progress === 1, 60)
      const traceOf = () => daemon.request(path).then(async (r) => ({ status: r.status, ...readTrace(await r.text()) }))
      // written at least once a second: wait for the completion to reach the file
      const first = yield* until("the complete line in the trace", traceOf, (t) => kinds(t.lines).includes("complete"))
      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(first.bad, [])
      const got = kinds(first.lines)
      assert.strictEqual(got[0], "start")
      for (const kind of ["tracker-request", "tracker-reply", "connect", "handshake", "Interested", "Unchoke", "Request", "Piece", "piece-verified"]) {
        assert.include(got, kind, `the trace has a ${kind} line`)
      }
      assert.isTrue(got.includes("Bitfield") || got.includes("HaveAll"), "the seeder said what it has")
      const fromSeeder = first.lines.filter((l) => l.ev.type === "Piece" && l.dir === "in")
      assert.isAtLeast(fromSeeder.reduce((n, l) => n + (l.ev.type === "Piece" ? l.ev.length : 0), 0), 700 * KiB + 3, "every block arrived as a traced Piece")

      // off: the torrent is closed and opened again without downloading; its file ends with the closes
      const off = yield* Effect.promise(() =>
        daemon.request(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: false }) })
      )
      assert.strictEqual(off.status, 204)
      const after = yield* until("seeding again", () => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`), (t) => t.status === "seeding")
      assert.isFalse(after.trace)
      assert.strictEqual(after.downloaded, 0, "reopened from its resume record, nothing fetched again")
      const closed = yield* Effect.promise(traceOf)
      assert.isFalse(closed.torn)
      assert.strictEqual(kinds(closed.lines).filter((k) => k === "start").length, 1)
      assert.include(kinds(closed.lines), "close", "the switch closed the connections, and said so")

      // on again: a second run in the same file
      yield* Effect.promise(() =>
        daemon.request(path, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: true }) })
      )
      const again = yield* until("a second start line", traceOf, (t) => kinds(t.lines).filter((k) => k === "start").length === 2)
      assert.deepStrictEqual(again.bad, [])
      assert.isTrue((yield* Effect.promise(() => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`))).trace)
      assert.isAtLeast(done.downloaded, 700 * KiB + 3)

      const unknown = yield* Effect.promise(() => daemon.request(`/api/torrents/${"0".repeat(40)}/trace`))
      assert.strictEqual(unknown.status, 404)
      const noToken = yield* Effect.promise(() => fetch(`${daemon.url}${path}`))
      assert.strictEqual(noToken.status, 403)
    }), 120_000)
})
