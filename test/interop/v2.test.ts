/**
 * BEP 52 against python3-libtorrent 2.0.8, on 127.0.0.1, every side at its default settings
 * (INTEROP.md, "v2-only and hybrid torrents from libtorrent"):
 * - our `download` command fetches a v2-only torrent made and seeded by libtorrent;
 * - the same from a .torrent without `piece layers` (BEP 52 lets a client fetch them from
 *   peers): we ask libtorrent for them by hash requests before the first piece;
 * - our client fetches a hybrid made and seeded by libtorrent (both hash formats checked),
 *   also in plaintext only, where libtorrent answers our SHA-1 handshake with the v2 name;
 * - a libtorrent leecher fetches a v2-only torrent from our `seed` command, also when the
 *   .torrent our seeder was given has no piece layers (it computes them from its data).
 * The files end mid-piece and one is empty, so the per-file piece alignment (and the
 * padding libtorrent puts after the last file) is exercised.
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Result } from "effect"
import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { decode, encode, isDict } from "../../src/bencode/index.ts"
import { Client } from "../../src/client/index.ts"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import { assertSameData, awaitComplete, awaitState, readTorrent, withNodeClient, workspace } from "./support/harness.ts"
import { assertLayerPhase, downloadWithCli, seedWithCli } from "./support/cli.ts"
import { ltCreate, ltPeer } from "./support/peers.ts"

const ALBUM = {
  "album/a.bin": 3_000_001,
  "album/b.bin": 1_234_567,
  "album/empty.dat": 0,
  "album/sub/c.txt": 1000
}
const ALBUM_BYTES = 3_000_001 + 1_234_567 + 1000


/** The .torrent at `from` without its top-level `piece layers`, written to `to` (the info dict, hence the info-hash, unchanged). */
const withoutPieceLayers = (from: Uint8Array, to: string) =>
  Effect.gen(function*() {
    const top = Result.getOrThrow(decode(from))
    assert.isTrue(isDict(top))
    if (!isDict(top)) return
    const { ["piece layers"]: layers, ...rest } = top
    assert.isDefined(layers, "libtorrent wrote piece layers")
    yield* Effect.promise(() => writeFile(to, encode(rest)))
  })

describe("interop: BEP 52 (v2-only and hybrid) with libtorrent", () => {
  liveWith(installed.libtorrent)("our `download` command fetches a v2-only torrent from a libtorrent seeder", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const created = yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 256 * 1024, format: "v2" })
      const { meta } = yield* readTorrent(torrentPath)
      assert.strictEqual(meta.version, "v2")
      assert.strictEqual(meta.infoHash, null)
      const seeder = yield* ltPeer("libtorrent v2 seeder", "seed", { torrent: torrentPath, save: src })
      assert.strictEqual(seeder.piecesAtStart, meta.pieceCount, "the seeder holds every piece")
      const events = yield* downloadWithCli({
        work, source: torrentPath, out, peers: [seeder.port], timeout: "90 seconds",
        expect: { meta, src, infoHash: created.infoHash, bytes: ALBUM_BYTES }
      })
      assert.deepStrictEqual(events.filter((e) => e["type"] === "pieceLayers"), [], "the layers are in the .torrent: nothing to fetch")
      yield* seeder.proc.waitFor("upload counted", () => {
        const s = seeder.stats()
        return s !== undefined && s.uploaded >= ALBUM_BYTES ? s : undefined
      }, "5 seconds")
    }))

  liveWith(installed.libtorrent)("our `download` command fetches a v2-only torrent whose .torrent lacks piece layers, asking libtorrent for them", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      const created = yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 16 * 1024, format: "v2" })
      const full = yield* readTorrent(torrentPath)
      const bare = join(work, "bare.torrent")
      yield* withoutPieceLayers(full.bytes, bare)
      const { meta } = yield* readTorrent(bare)
      assert.strictEqual(meta.version, "v2")
      assert.deepStrictEqual(meta.infoHashV2, full.meta.infoHashV2)
      assert.strictEqual(meta.pieceLayers.size, 0, "no layer in the file: every one must come from the seeder")
      assert.isAbove(full.meta.pieceLayers.size, 1)
      const seeder = yield* ltPeer("libtorrent v2 seeder", "seed", { torrent: torrentPath, save: src })
      const events = yield* downloadWithCli({
        work, source: bare, out, peers: [seeder.port], timeout: "90 seconds",
        expect: { meta, src, infoHash: created.infoHash, bytes: ALBUM_BYTES }
      })
      assertLayerPhase(events, full.meta.pieceLayers.size)
    }))

  liveWith(installed.libtorrent)("our client fetches a hybrid torrent from a libtorrent seeder, checking both hash formats", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 256 * 1024, format: "hybrid" })
      const { bytes, meta } = yield* readTorrent(torrentPath)
      assert.strictEqual(meta.version, "hybrid")
      assert.isAbove(meta.pieceLayers.size, 0, "the piece layers are in the file")
      const seeder = yield* ltPeer("libtorrent hybrid seeder", "seed", { torrent: torrentPath, save: src })
      yield* withNodeClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(bytes, { directory: out, peers: [{ host: "127.0.0.1", port: seeder.port }] })
        yield* awaitComplete(torrent, 60)
        const state = yield* awaitState(torrent, (s) => s.status === "seeding", "seeding")
        assert.strictEqual(state.wantedBytes, ALBUM_BYTES)
        assert.strictEqual(state.piecesVerified, meta.pieceCount)
      }))
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("plaintext only: our hybrid dials libtorrent by its SHA-1 name and takes the reply upgraded to the v2 name (BEP 52)", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 256 * 1024, format: "hybrid" })
      const { bytes, meta } = yield* readTorrent(torrentPath)
      const seeder = yield* ltPeer("libtorrent hybrid seeder", "seed", { torrent: torrentPath, save: src })
      yield* withNodeClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(bytes, { directory: out, peers: [{ host: "127.0.0.1", port: seeder.port }] })
        yield* awaitComplete(torrent, 60)
      }), { encryption: "disable", transports: ["tcp"] })
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("a libtorrent leecher fetches a v2-only torrent from our `seed` command", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 64 * 1024, format: "v2" })
      const { meta } = yield* readTorrent(torrentPath)
      const port = yield* seedWithCli({ work, torrent: torrentPath, data: src })
      const leecher = yield* ltPeer("libtorrent v2 leecher", "leech", { torrent: torrentPath, save: out, connect: [port] })
      assert.strictEqual(leecher.piecesAtStart, 0, "the leecher starts empty")
      yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "90 seconds")
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("our `seed` command given a v2 .torrent without piece layers computes them from its data and serves a libtorrent leecher", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(ALBUM, "album")
      yield* ltCreate(join(src, "album"), torrentPath, { pieceLength: 64 * 1024, format: "v2" })
      const full = yield* readTorrent(torrentPath)
      const bare = join(work, "bare.torrent")
      yield* withoutPieceLayers(full.bytes, bare)
      const port = yield* seedWithCli({ work, torrent: bare, data: src })
      // the leecher has the full .torrent: it checks every piece against the layers libtorrent made
      const leecher = yield* ltPeer("libtorrent v2 leecher", "leech", { torrent: torrentPath, save: out, connect: [port] })
      yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "90 seconds")
      yield* assertSameData(full.meta, src, out)
    }))
})
