/**
 * A v2 torrent's piece layers, once the daemon has them, are stored in its .torrent (BEP 52
 * `piece layers`): a restarted daemon opens the torrent from that file, with no `pieceLayers`
 * phase and no peer asked. The real `effect-torrent serve` process (from source), restarted
 * on its state directory; our own client seeds through a tracker, all on 127.0.0.1.
 *
 * The daemon downloads under a rate limit, so it holds part of the data when it stops; the
 * seeder is then gone. Without stored layers the restarted daemon could neither hash them
 * from its incomplete file nor fetch them from anyone: it would stay in `pieceLayers`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Deferred, Effect, Exit, Scope } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import type { TorrentSummary } from "../src/daemon/model.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { parseMetainfo, toTorrentFile, wireInfoHash } from "../src/metainfo/index.ts"
import { startCli } from "./support/cli-process.ts"
import { startClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { announceSeed, bittorrentTracker } from "./support/tracker-server.ts"
import { eventually } from "./support/waiting.ts"

const KiB = 1024

/** `effect-torrent serve` on `state`, its API with the token; `stop` is SIGTERM (resume data saved) and waits for the exit. */
const serve = (state: string, out: string) =>
  Effect.gen(function*() {
    const proc = yield* startCli(["serve", "--http", "127.0.0.1:0", "--state", state, "--out", out, "--port", "0", "--peer-host", "127.0.0.1", "--no-dht", "--no-lsd"])
    const address = yield* eventually("its address and token", Effect.sync(() => {
      const text = proc.lines.join("\n")
      const url = /serving (http:\/\/[^/\s]+)\//.exec(text)?.[1]
      const token = /API token: (\S+)/.exec(text)?.[1]
      return url === undefined || token === undefined ? undefined : { url, token }
    }), (found) => found !== undefined, 60)
    if (address === undefined) return yield* Effect.die(new Error("serve told no address"))
    const json = <A>(path: string, init: RequestInit = {}) =>
      Effect.promise(async () => {
        const res = await fetch(`${address.url}${path}`, { ...init, headers: { "x-effect-torrent-token": address.token, ...(init.headers as Record<string, string> | undefined) } })
        if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
        const text = await res.text()
        return (text === "" ? undefined : JSON.parse(text)) as A
      })
    const stop = Effect.gen(function*() {
      if (proc.child.pid !== undefined) process.kill(proc.child.pid, "SIGTERM")
      return yield* Deferred.await(proc.exited)
    })
    return { json, stop }
  })

describe("daemon: a v2 torrent's piece layers are stored", () => {
  it.live("fetched once, kept in the state's .torrent; a restarted serve opens it without a pieceLayers phase and its data checks", () =>
    Effect.gen(function*() {
      const source = yield* tempDir("et-layers-src-")
      yield* writePayload(join(source, "seed", "v2set"), { "big.bin": 600 * KiB, "small.bin": 10 * KiB })
      const created = yield* createTorrent(join(source, "seed", "v2set"), { pieceLength: 16 * KiB, format: "v2" }).pipe(Effect.provide(NodeFileSystem.layer))
      const seederScope = yield* Scope.make()
      const seederClient = yield* startClient(join(source, "seed")).pipe(Scope.provide(seederScope))
      yield* (yield* seederClient.add(created.torrent)).whenComplete
      const tracker = yield* bittorrentTracker
      yield* announceSeed(tracker, wireInfoHash(created.metainfo), seederClient.port ?? 0)
      // the info dict and a tracker, no piece layers: the daemon fetches them
      const bare = toTorrentFile({ ...created.metainfo, trackers: [[tracker.http]], pieceLayers: new Map() })

      const work = yield* tempDir("et-layers-")
      const state = join(work, "state")
      const first = yield* serve(state, join(work, "out"))
      // slow, so part of the data is missing when the daemon stops
      yield* first.json("/api/session/limits", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ download: 32 * KiB }) })
      const added = yield* first.json<TorrentSummary>("/api/torrents/upload", { method: "POST", headers: { "content-type": "application/x-bittorrent" }, body: Buffer.from(bare) })
      const summary = (daemon: typeof first) => daemon.json<TorrentSummary>(`/api/torrents/${added.infoHash}`)
      yield* eventually("downloading", summary(first), (t) => t.status === "downloading" && t.piecesVerified > 0, 30)

      const stored = yield* parseMetainfo(new Uint8Array(yield* Effect.promise(() => readFile(join(state, "torrents", `${added.infoHash}.torrent`)))))
      assert.deepStrictEqual([...stored.pieceLayers.keys()], [...created.metainfo.pieceLayers.keys()], "the fetched layer is in the stored .torrent")
      assert.deepStrictEqual(stored.infoBytes, created.metainfo.infoBytes)
      assert.deepStrictEqual(stored.trackers, [[tracker.http]])
      yield* first.stop
      yield* Scope.close(seederScope, Exit.void)

      const second = yield* serve(state, join(work, "out"))
      const seen: Array<string> = []
      const opened = yield* eventually("opened", Effect.tap(summary(second), (t) => Effect.sync(() => seen.push(t.status))), (t) => t.status === "downloading", 30)
      assert.notInclude(seen, "pieceLayers", `statuses seen: ${seen.join(", ")}`)
      assert.isAbove(opened.piecesVerified, 0)
      assert.isBelow(opened.piecesVerified, opened.pieceCount)
      // the data checks against the stored layer: every piece held before is verified again
      yield* second.json(`/api/torrents/${added.infoHash}/verify`, { method: "POST" })
      const checked = yield* eventually("checked", summary(second), (t) => t.status === "downloading" && t.piecesVerified >= opened.piecesVerified, 30)
      assert.strictEqual(checked.piecesVerified, opened.piecesVerified)
      yield* second.stop
    }))
})
