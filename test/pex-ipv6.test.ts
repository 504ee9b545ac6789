/**
 * PEX over IPv6 (BEP 11 `added6`), end to end on ::1 with real sockets: a leecher that knows
 * only a second leecher learns the seeder's IPv6 address from that leecher's ut_pex message,
 * dials it and downloads from it. The second leecher uploads at 2 KiB/s, so the data must
 * come from the seeder.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { recordEvents, startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"

const SIZE = 1_500_000

describe("PEX over IPv6", () => {
  it.live("a leecher on ::1 learns the seeder only through PEX added6 and downloads from it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "pex6/x.bin": SIZE })
      const { torrent } = yield* createTorrent(join(dir, "seed", "pex6"), { pieceLength: 32768 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      // no tracker, no DHT, no LSD: peers come only from `peers` and PEX
      const seeder = yield* startNodeClient(join(dir, "seed"), { host: "::1" })
      const seeding = yield* seeder.add(torrent)
      yield* seeding.whenComplete
      const seedAddress = { host: "::1", port: seeder.port ?? 0 }

      const middle = yield* startNodeClient(join(dir, "middle"), { host: "::1" })
      yield* middle.add(torrent, { peers: [seedAddress], uploadLimit: 2048 })

      // not listening: nobody can learn its address (not even the seeder, through the middle
      // leecher's PEX), so the only way to the seeder is for it to dial what PEX told it
      const last = yield* startNodeClient(join(dir, "last"), { host: "::1", port: null })
      const leeching = yield* last.add(torrent, { peers: [{ host: "::1", port: middle.port ?? 0 }], paused: true })
      const log = yield* recordEvents(leeching)
      yield* leeching.resume
      const learnt = yield* log.waitFor("PEX to name the seeder", (e) => e._tag === "PeersDiscovered" && e.source === "pex", "20 seconds")
      assert.deepStrictEqual(learnt, { _tag: "PeersDiscovered", source: "pex", count: 1 })
      yield* log.waitFor("a connection with the seeder", (e) => e._tag === "PeerConnected" && e.peer === `[::1]:${seedAddress.port}`, "20 seconds")
      yield* leeching.whenComplete.pipe(Effect.timeout("60 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "seed", "pex6", "x.bin"), join(dir, "last", "pex6", "x.bin")))
      const initial = log.all().filter((e) => e._tag === "PeersDiscovered" && e.source !== "pex")
      assert.deepStrictEqual(initial, [], "the seeder's address came from nowhere else")
    }).pipe(Effect.timeout("90 seconds")))
})
