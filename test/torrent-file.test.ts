import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect } from "effect"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { toHex } from "../src/bytes.ts"
import { parseMetainfo, toTorrentFile } from "../src/metainfo/index.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"

describe("toTorrentFile", () => {
  it.live("a .torrent rebuilt from a parsed one keeps the info-hash (the info dict's bytes as they were), files and trackers", () =>
    Effect.gen(function*() {
      const fixture = yield* makeTorrent(yield* tempDir("et-tf-"), "pack", { "a.bin": 70_000, "b/c.txt": 10 }, 16 * 1024)
      const meta = { ...fixture.metainfo, trackers: [["http://127.0.0.1:1/announce", "udp://127.0.0.1:2"], ["http://127.0.0.1:3/a"]] }
      const again = yield* parseMetainfo(toTorrentFile(meta))
      assert.strictEqual(toHex(again.infoHash ?? new Uint8Array()), toHex(fixture.infoHash))
      assert.deepStrictEqual(again.trackers, meta.trackers)
      assert.deepStrictEqual(again.files.map((f) => f.path.join("/")), fixture.metainfo.files.map((f) => f.path.join("/")))
      const bare = yield* parseMetainfo(toTorrentFile({ ...fixture.metainfo, trackers: [] }))
      assert.deepStrictEqual(bare.trackers, [])
    }))

  it.live("a v2 .torrent keeps its piece layers (BEP 52), web seeds, comment and dates: parsed again, it needs no layer from peers", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("et-tf-v2-")
      yield* writePayload(join(dir, "set"), { "big.bin": 100_000, "small.bin": 1000 })
      const created = yield* createTorrent(join(dir, "set"), { pieceLength: 16 * 1024, format: "v2", comment: "a set", webSeeds: ["http://127.0.0.1:1/"] })
        .pipe(Effect.provide(NodeFileSystem.layer))
      const meta = created.metainfo
      assert.strictEqual(meta.pieceLayers.size, 1)
      const again = yield* parseMetainfo(toTorrentFile(meta))
      assert.deepStrictEqual([...again.pieceLayers.entries()], [...meta.pieceLayers.entries()])
      assert.deepStrictEqual([again.webSeeds, again.comment, again.createdBy, again.creationDate], [meta.webSeeds, meta.comment, meta.createdBy, meta.creationDate])
      assert.deepStrictEqual(again.infoBytes, meta.infoBytes)
    }))
})
