/**
 * Transmission RPC over real HTTP: the 409 session-id exchange, then session-get,
 * torrent-add (base64 metainfo), torrent-get with the usual fields, torrent-set, stop,
 * start, verify and remove with delete-local-data. The daemon seeds data already in its
 * download directory, so nothing here needs a peer. (transmission-remote itself drives it
 * in the interop tier.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { startDaemon, until } from "./support/daemon.ts"
import { tempDir } from "./support/files.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"

const KiB = 1024

interface RpcReply {
  readonly result: string
  readonly arguments: Record<string, unknown>
  readonly tag?: number
}

describe("daemon: Transmission RPC", () => {
  it.live("session-id exchange, add, get, set, stop, start, verify, remove with data", () =>
    Effect.gen(function*() {
      const out = yield* tempDir("et-rpc-out-")
      const fixture = yield* makeTorrent(out, "album", { "01.flac": 300 * KiB, "02.flac": 200 * KiB }, 32 * KiB)
      const daemon = yield* startDaemon({ stateDirectory: yield* tempDir("et-rpc-state-"), downloadDirectory: out })
      const url = `${daemon.url}/transmission/rpc`

      const first = yield* Effect.promise(() => fetch(url, { method: "POST", body: JSON.stringify({ method: "session-get" }) }))
      assert.strictEqual(first.status, 409)
      const session = first.headers.get("x-transmission-session-id") ?? ""
      assert.isAbove(session.length, 10)
      const rpc = (method: string, args: Record<string, unknown> = {}) =>
        Effect.promise(async () => {
          const res = await fetch(url, { method: "POST", headers: { "x-transmission-session-id": session }, body: JSON.stringify({ method, arguments: args, tag: 7 }) })
          assert.strictEqual(res.status, 200)
          return (await res.json()) as RpcReply
        })

      const info = yield* rpc("session-get")
      assert.strictEqual(info.result, "success")
      assert.strictEqual(info.tag, 7)
      assert.strictEqual(info.arguments["download-dir"], out)
      assert.isAtLeast(Number(info.arguments["rpc-version"]), 15)

      const added = yield* rpc("torrent-add", { metainfo: Buffer.from(fixture.torrent).toString("base64") })
      const record = added.arguments["torrent-added"] as { id: number; name: string; hashString: string }
      assert.strictEqual(record.name, "album")
      const again = yield* rpc("torrent-add", { metainfo: Buffer.from(fixture.torrent).toString("base64") })
      assert.deepStrictEqual(again.arguments["torrent-duplicate"], record)

      const fields = ["id", "name", "hashString", "status", "percentDone", "rateDownload", "rateUpload", "totalSize", "eta", "error", "errorString", "files", "fileStats", "peers", "trackers", "downloadDir"]
      const get = () => Effect.map(rpc("torrent-get", { ids: [record.id], fields }), (r) => (r.arguments["torrents"] as Array<Record<string, unknown>>)[0] ?? {})
      const seeding = yield* get()
      assert.deepStrictEqual(Object.keys(seeding).sort(), [...fields].sort())
      assert.strictEqual(seeding["status"], 6)
      assert.strictEqual(seeding["percentDone"], 1)
      assert.strictEqual(seeding["totalSize"], 500 * KiB)
      assert.strictEqual(seeding["downloadDir"], out)
      assert.strictEqual((seeding["files"] as Array<unknown>).length, 2)

      // torrent-set: one file unwanted, the other high, limits in KB/s
      yield* rpc("torrent-set", { ids: [record.hashString], "files-unwanted": [1], "priority-high": [0], downloadLimited: true, downloadLimit: 100 })
      const set = yield* get()
      assert.deepStrictEqual((set["fileStats"] as Array<{ wanted: boolean; priority: number }>).map((f) => [f.wanted, f.priority]), [[true, 1], [false, 0]])
      const limited = yield* rpc("torrent-get", { ids: record.id, fields: ["downloadLimit", "downloadLimited"] })
      assert.deepStrictEqual((limited.arguments["torrents"] as Array<unknown>)[0], { downloadLimit: 100, downloadLimited: true })

      yield* rpc("torrent-stop", { ids: [record.id] })
      assert.strictEqual((yield* get())["status"], 0)
      yield* rpc("torrent-start", { ids: [record.id] })
      assert.strictEqual((yield* get())["status"], 6)
      yield* rpc("torrent-verify", { ids: [record.id] })
      yield* until("verified", () => Effect.runPromise(get()), (t) => t["status"] === 6 && t["percentDone"] === 1)

      const stats = yield* rpc("session-stats")
      assert.strictEqual(stats.arguments["torrentCount"], 1)
      const unknown = yield* rpc("no-such-method")
      assert.include(unknown.result, "not recognized")

      yield* rpc("torrent-remove", { ids: [record.id], "delete-local-data": true })
      const none = yield* rpc("torrent-get", { fields: ["id"] })
      assert.deepStrictEqual(none.arguments["torrents"], [])
      assert.isFalse(existsSync(join(out, "album")))
    }))
})
