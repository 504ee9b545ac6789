import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { toHex } from "../src/bytes.ts"
import { parseMetainfo, toTorrentFile } from "../src/metainfo/index.ts"
import { tempDir } from "./support/files.ts"
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
})
