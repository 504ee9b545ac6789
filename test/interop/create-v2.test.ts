/**
 * `create --v2` and `create --hybrid` against python3-libtorrent 2.0.8, on 127.0.0.1, every side
 * at its default settings:
 * - libtorrent loads our .torrent (lt.torrent_info) and finds the info-hashes we print;
 * - libtorrent, making a torrent of the same files with the same piece length, gets the same
 *   info-hashes: our info dict is byte for byte the one libtorrent writes;
 * - a libtorrent leecher downloads the torrent from our `seed` command, byte-identical.
 * The files end mid-piece, one is empty and one sits in a subdirectory, so the per-file
 * alignment and (hybrid) the BEP 47 padding are exercised.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { join } from "node:path"
import { toHex } from "../../src/bytes.ts"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import { CLI_BIN, seedWithCli } from "./support/cli.ts"
import { assertSameData, readTorrent, workspace } from "./support/harness.ts"
import { ltCreate, ltPeer, PYTHON } from "./support/peers.ts"
import { spawnProcess } from "./support/process.ts"

const ALBUM = {
  "album/a.bin": 3_000_001,
  "album/b.bin": 1_234_567,
  "album/empty.dat": 0,
  "album/sub/c.txt": 1000
}


/** libtorrent's reading of a .torrent: its info-hashes (hex, "" when absent) and file count. */
const LT_INFO = `
import json, sys, libtorrent as lt
ti = lt.torrent_info(sys.argv[1])
h = ti.info_hashes()
print(json.dumps({"v1": str(h.v1) if h.has_v1() else "", "v2": h.v2.to_bytes().hex() if h.has_v2() else "",
                  "files": ti.files().num_files(), "pieces": ti.num_pieces()}))
`
const LtInfo = Schema.fromJsonString(Schema.Struct({
  v1: Schema.String,
  v2: Schema.String,
  files: Schema.Number,
  pieces: Schema.Number
}))

const ltInfo = (torrentPath: string) =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* spawnProcess("libtorrent torrent_info", PYTHON, ["-c", LT_INFO, torrentPath])
    const code = yield* proc.waitExit("30 seconds")
    assert.strictEqual(code, 0, proc.output())
    const line = proc.lines().find((l) => l.startsWith("{"))
    assert.isDefined(line, proc.output())
    return yield* Schema.decodeUnknownEffect(LtInfo)(line ?? "")
  }))

describe("interop: create --v2 / --hybrid with libtorrent", () => {
  for (const format of ["v2", "hybrid"] as const) {
    liveWith(installed.libtorrent)(`create --${format}: libtorrent reads it as we do and downloads it from our seed`, () =>
      Effect.gen(function*() {
        const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
        const create = yield* spawnProcess("effect-torrent create", process.execPath, [
          CLI_BIN, "create", join(src, "album"), "-o", torrentPath, `--${format}`
        ], { cwd: work })
        assert.strictEqual(yield* create.waitExit("60 seconds"), 0, create.output())
        const { meta } = yield* readTorrent(torrentPath)
        assert.strictEqual(meta.version, format)
        const v2 = toHex(meta.infoHashV2 ?? new Uint8Array(0))
        const v1 = meta.infoHash === null ? "" : toHex(meta.infoHash)
        assert.include(create.output(), `info hash v2: ${v2}`)

        // libtorrent parses our file and agrees on both hashes and the geometry
        const lt = yield* ltInfo(torrentPath)
        assert.strictEqual(lt.v2, v2)
        assert.strictEqual(lt.v1, v1)
        assert.strictEqual(lt.pieces, meta.pieceCount)

        // libtorrent's own torrent of the same files: the same info dict, hence the same hashes
        const ltPath = join(work, "lt.torrent")
        yield* ltCreate(join(src, "album"), ltPath, { pieceLength: meta.pieceLength, format })
        const theirs = yield* ltInfo(ltPath)
        assert.deepStrictEqual(theirs, lt)

        // a libtorrent leecher fetches it from our `seed`
        const port = yield* seedWithCli({ work, torrent: torrentPath, data: src })
        const leecher = yield* ltPeer(`libtorrent ${format} leecher`, "leech", { torrent: torrentPath, save: out, connect: [port] })
        assert.strictEqual(leecher.piecesAtStart, 0, "the leecher starts empty")
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "90 seconds")
        yield* assertSameData(meta, src, out)
      }))
  }
})
