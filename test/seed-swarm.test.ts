/**
 * Being a peer: our seeder serves a WebTorrent leecher, and ten of our own leechers at
 * once, over real TCP on 127.0.0.1. The leechers find each other through a real tracker
 * and trade pieces, so part of the data comes from leechers, not only from the seed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Option, Stream, SubscriptionRef } from "effect"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { createTorrent } from "../src/metainfo/create.ts"
import { startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"
import { eventually } from "./support/waiting.ts"
import { webTorrentClient } from "./support/webtorrent.ts"

/** A fresh client on the real machine (trackers included), living in the caller's scope. */
const FILES = { "share/one.bin": 5_000_000, "share/two.bin": 3_388_608 }

const fixture = (trackers: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir()
    yield* writePayload(join(dir, "seed"), FILES)
    const created = yield* createTorrent(join(dir, "seed", "share"), { trackers, pieceLength: 65536 }).pipe(
      Effect.provide(NodeFileSystem.layer)
    )
    return { dir, torrent: created.torrent }
  })

describe("seeding", () => {
  it.live("a WebTorrent leecher downloads from our seeder, byte-identical", () =>
    Effect.gen(function*() {
      const { dir, torrent } = yield* fixture([])
      const seeder = yield* startNodeClient(join(dir, "seed"))
      const seeding = yield* seeder.add(torrent)
      yield* seeding.whenComplete
      const port = seeder.port
      assert.isNotNull(port)
      const wt = yield* webTorrentClient
      yield* Effect.callback<void>((resume) => {
        const t = wt.client.add(torrent, { path: join(dir, "wt") })
        t.on("ready", () => t.addPeer(`127.0.0.1:${port}`))
        t.once("done", () => resume(Effect.void))
      }).pipe(Effect.timeout("60 seconds"))
      for (const path of Object.keys(FILES)) {
        assert.isTrue(yield* sameFile(join(dir, "seed", path), join(dir, "wt", path)), path)
      }
      // The state is republished every second: wait for the one that counts the last blocks.
      const uploaded = yield* SubscriptionRef.changes(seeding.state).pipe(
        Stream.map((s) => s.uploaded),
        Stream.filter((n) => n >= 8_388_608),
        Stream.runHead,
        Effect.timeout("5 seconds")
      )
      assert.isAtLeast(Option.getOrElse(uploaded, () => 0), 8_388_608, "the seed uploaded the whole torrent")
    }))

  it.live("ten of our leechers download from one seed at once and trade pieces among themselves", () =>
    Effect.gen(function*() {
      const tracker = yield* bittorrentTracker
      const { dir, torrent } = yield* fixture([[tracker.http]])
      // A slow seed makes the leechers useful to each other, as on a real swarm.
      const seeder = yield* startNodeClient(join(dir, "seed"), { uploadLimit: 2 * 1024 * 1024 })
      const seeding = yield* seeder.add(torrent)
      yield* seeding.whenComplete
      const leechers = yield* Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) =>
        Effect.gen(function*() {
          const client = yield* startNodeClient(join(dir, `leech${i}`))
          return { client, torrent: yield* client.add(torrent) }
        }))
      yield* Effect.forEach(leechers, ({ torrent: t }) => t.whenComplete, { concurrency: "unbounded", discard: true }).pipe(
        Effect.timeout("120 seconds")
      )
      const original = yield* Effect.promise(() => readFile(join(dir, "seed", "share", "one.bin")))
      for (let i = 0; i < leechers.length; i++) {
        const copy = yield* Effect.promise(() => readFile(join(dir, `leech${i}`, "share", "one.bin")))
        assert.isTrue(original.equals(copy), `leecher ${i} has the same data`)
        assert.isTrue(yield* sameFile(join(dir, "seed", "share", "two.bin"), join(dir, `leech${i}`, "share", "two.bin")))
      }
      // Each leecher counts what it uploaded (to the other leechers: the seed wants nothing). The
      // state is republished every second, so wait for counts that include the last blocks.
      const fromLeechers = yield* eventually(
        "the leechers' states to count what they sent each other",
        Effect.map(Effect.forEach(leechers, ({ torrent: t }) => SubscriptionRef.get(t.state)), (states) => states.reduce((n, s) => n + s.uploaded, 0)),
        (n) => n > 0
      )
      const seedUploaded = SubscriptionRef.getUnsafe(seeding.state).uploaded
      const total = 10 * 8_388_608
      yield* Effect.logInfo(`the seed sent ${seedUploaded} of ${total} bytes, the leechers ${fromLeechers} to each other`)
    }))
})
