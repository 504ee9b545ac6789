/**
 * The state directory's crash consistency: what a process killed at each step of an add
 * or a remove leaves behind, and what the next start makes of it.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { readdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { makeStateStore, type TorrentRecord } from "../src/daemon/state-store.ts"
import { tempDir } from "./support/files.ts"

const hash = (c: string) => c.repeat(40)
const record = (infoHash: string, id: number): TorrentRecord => ({
  infoHash, id, name: `t${id}`, directory: "/tmp", addedAt: 0, paused: false, priorities: [1], uploadLimit: null, downloadLimit: null
})
const platform = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer)

describe("daemon state store", () => {
  it.live("a killed add or remove leaves nothing half-done: load keeps committed torrents only", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-state-")
      const store = yield* makeStateStore(root)
      const torrent = new Uint8Array([100, 101])
      yield* store.saveTorrent(record(hash("a"), 1), torrent)
      yield* store.saveTorrent(record(hash("b"), 2), torrent)
      yield* store.saveSettings({ uploadLimit: 1000, downloadLimit: null, nextId: 3 })
      const dir = join(root, "torrents")
      // killed after writing the .torrent of an add, before its record: never happened
      yield* Effect.promise(() => writeFile(join(dir, `${hash("c")}.torrent`), torrent))
      // killed while writing a record: the temp file is all there is
      yield* Effect.promise(() => writeFile(join(dir, `${hash("d")}.json.tmp`), "{\"infoHash\":"))
      // killed in the middle of a remove, after the record went: finished at load
      yield* store.saveTorrent(record(hash("e"), 4), torrent)
      yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.rm(join(dir, `${hash("e")}.json`))))

      const fresh = yield* makeStateStore(root)
      const loaded = yield* fresh.load
      assert.deepStrictEqual(loaded.torrents.map((t) => t.record.infoHash), [hash("a"), hash("b")])
      assert.deepStrictEqual(loaded.torrents.map((t) => [...(t.torrent ?? [])]), [[100, 101], [100, 101]])
      assert.deepStrictEqual(loaded.settings, { uploadLimit: 1000, downloadLimit: null, nextId: 3 })
      assert.deepStrictEqual((yield* Effect.promise(() => readdir(dir))).sort(), [
        `${hash("a")}.json`, `${hash("a")}.torrent`, `${hash("b")}.json`, `${hash("b")}.torrent`
      ])

      // a remove: the record first, so a crash right after it cannot bring the torrent back
      yield* fresh.removeTorrent(hash("a"))
      assert.deepStrictEqual((yield* fresh.load).torrents.map((t) => t.record.id), [2])
    }).pipe(Effect.provide(platform)))

  it.live("a magnet still fetching has a record and no .torrent; a record with neither is dropped; garbage is ignored", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-state-magnet-")
      const store = yield* makeStateStore(root)
      yield* store.saveTorrent({ ...record(hash("f"), 1), magnet: `magnet:?xt=urn:btih:${hash("f")}` })
      yield* store.saveTorrent(record(hash("0"), 2))
      yield* Effect.promise(() => writeFile(join(root, "torrents", `${hash("1")}.json`), "not json"))
      const loaded = yield* store.load
      assert.deepStrictEqual(loaded.torrents.map((t) => [t.record.infoHash, t.torrent]), [[hash("f"), null]])
    }).pipe(Effect.provide(platform)))
})
