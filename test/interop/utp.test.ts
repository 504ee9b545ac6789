/**
 * uTP against python3-libtorrent, both ways, on 127.0.0.1:
 * - our client (default settings) downloads from a libtorrent seeder with TCP switched off;
 * - a libtorrent leecher with TCP switched off downloads from our `seed` command (the CLI
 *   as users run it, default settings);
 * - a libtorrent leecher at its defaults (uTP dialled first) reaches our seeder on its
 *   first attempt: no 3-second uTP time-out before a TCP retry.
 * Settings for "TCP off" are INTEROP.md's ("Peers that speak only uTP").
 */
import { assert, describe } from "@effect/vitest"
import { Effect, Option } from "effect"
import { join } from "node:path"
import { Client } from "../../src/client/index.ts"
import { liveWith } from "../support/requirements.ts"
import { installed } from "./support/available.ts"
import { seedWithCli } from "./support/cli.ts"
import { assertSameData, awaitComplete, ourTorrent, withNodeClient, workspace } from "./support/harness.ts"
import { type LtPeer, ltPeer } from "./support/peers.ts"

const FILES = {
  "album/a.bin": 5_000_003,
  "album/b.bin": 1_048_576,
  "album/c.txt": 777
}

/**
 * libtorrent dialled us over uTP only, and its uTP connection was answered at once: no
 * time-out, no TCP retry. Its default policy opens with an encrypted (MSE) handshake, which
 * our default ("prefer") takes, so there is no plaintext redial either: one attempt.
 */
const assertFirstTryOverUtp = (leecher: LtPeer) => {
  const notes = leecher.proc.output().split("\n").filter((l) => !l.startsWith("{")).join("\n")
  const attempts = leecher.connectAttempts()
  assert.strictEqual(attempts.length, 1, notes)
  assert.isTrue(attempts.every((t) => t === "utp"), notes)
  assert.notInclude(notes, "timed out")
  assert.deepStrictEqual(leecher.transportsSeen(), ["utp"])
}

describe("interop: uTP with libtorrent", () => {
  liveWith(installed.libtorrent)("our client downloads from a libtorrent seeder that speaks only uTP", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(FILES, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 256 * 1024)
      const seeder = yield* ltPeer("libtorrent uTP-only seeder", "seed", { torrent: torrentPath, save: src, transports: "utp" })
      yield* withNodeClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(meta, { directory: out, peers: [{ host: "127.0.0.1", port: seeder.port }] })
        yield* awaitComplete(torrent, 60)
      }))
      assert.deepStrictEqual(seeder.transportsSeen(), ["utp"])
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("a libtorrent leecher that speaks only uTP downloads from our `seed` command", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(FILES, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 256 * 1024)
      const port = yield* seedWithCli({ work, torrent: torrentPath, data: src })
      const leecher = yield* ltPeer("libtorrent uTP-only leecher", "leech", { torrent: torrentPath, save: out, connect: [port], transports: "utp" })
      yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "90 seconds")
      assertFirstTryOverUtp(leecher)
      yield* assertSameData(meta, src, out)
    }))

  liveWith(installed.libtorrent)("a libtorrent leecher at its defaults reaches our seeder on its first attempt, over uTP", () =>
    Effect.gen(function*() {
      const { work, src, out, torrentPath } = yield* workspace(FILES, "album")
      const meta = yield* ourTorrent(join(src, "album"), torrentPath, 256 * 1024)
      yield* withNodeClient(work, Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(meta, { directory: src })
        yield* awaitComplete(torrent, 60)
        const port = Option.getOrThrow(Option.fromNullishOr(client.port))
        const leecher = yield* ltPeer("libtorrent leecher (defaults)", "leech", { torrent: torrentPath, save: out, connect: [port] })
        yield* leecher.proc.waitFor("download finished", () => (leecher.finished() ? true : undefined), "90 seconds")
        assertFirstTryOverUtp(leecher)
      }))
      yield* assertSameData(meta, src, out)
    }))
})
