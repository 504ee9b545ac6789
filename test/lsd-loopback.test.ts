/**
 * Local Service Discovery (BEP 14) with real sockets on loopback: two of our clients on
 * 127.0.0.1 with no tracker, no DHT and no peer given find each other only through the
 * multicast group 239.192.152.143:6771 (announces leave through 127.0.0.1, and the kernel
 * loops them back to every member joined there), and the download is byte-identical. A raw
 * member of the group checks what goes on the wire: each client's announces carry its port,
 * the info-hash and its own cookie, and a private torrent (BEP 27) is never announced.
 *
 * On the wire here, each client sends one announce at start-up and none more during the
 * download. The rate limits over time (one datagram a minute, each torrent every 5
 * minutes) are counted in virtual time, in the simulator (sim-lsd.test.ts): in real time
 * they would take minutes.
 *
 * Needs multicast on loopback: skipped locally without it, failing in CI (see lsd-group.ts).
 */
import { assert, describe } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect } from "effect"
import { join } from "node:path"
import { toHex } from "../src/bytes.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { awaitComplete, recordEvents, startClient } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { listenToGroup, loopbackMulticast } from "./support/lsd-group.ts"
import { liveWith } from "./support/requirements.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"

const PIECE = 32 * 1024

const portOf = (client: { readonly port: number | null }) =>
  client.port === null ? Effect.die(new Error("the client does not listen")) : Effect.succeed(client.port)

describe("LSD on loopback (real multicast)", () => {
  liveWith(loopbackMulticast)("two clients with no tracker, DHT or peer list find each other by LSD; the copy is byte-identical", () =>
    Effect.gen(function*() {
      const group = yield* listenToGroup
      const source = yield* tempDir()
      const out = yield* tempDir()
      const fixture = yield* makeTorrent(source, "payload", { "a.bin": 300_000, "d/b.bin": 77_777 }, PIECE)
      const hash = toHex(fixture.infoHash)

      const seeder = yield* startClient(source, { lsd: true })
      const seeded = yield* seeder.add(fixture.torrent)
      const seederLog = yield* recordEvents(seeded)
      yield* seeded.whenComplete.pipe(Effect.timeout("5 seconds"))
      const seederPort = yield* portOf(seeder)
      const seederAnnounce = yield* group.waitFor(`from the seeder (port ${seederPort})`, (a) => a.port === seederPort)
      assert.deepStrictEqual(seederAnnounce.infoHashes, [hash])
      assert.strictEqual(seederAnnounce.from, "127.0.0.1", "the announce left through loopback")

      // The leecher joins after the seeder's first announce: the seeder learns of it from the
      // leecher's own first announce and dials it (the seeder's next one is 5 minutes away).
      const leecher = yield* startClient(out, { lsd: true })
      const torrent = yield* leecher.add(fixture.torrent)
      const log = yield* recordEvents(torrent)
      const leecherPort = yield* portOf(leecher)
      const leecherAnnounce = yield* group.waitFor(`from the leecher (port ${leecherPort})`, (a) => a.port === leecherPort)
      assert.deepStrictEqual(leecherAnnounce.infoHashes, [hash])
      assert.isNotNull(seederAnnounce.cookie)
      assert.notStrictEqual(leecherAnnounce.cookie, seederAnnounce.cookie, "each client has its own cookie (its own announces are dropped by it)")

      yield* awaitComplete(torrent, log, "20 seconds")
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])

      // Every address either side was given came from LSD: the seeder heard the leecher.
      const discovered = [...seederLog.all(), ...log.all()].filter((e) => e._tag === "PeersDiscovered")
      assert.deepStrictEqual(discovered, [{ _tag: "PeersDiscovered", source: "lsd", count: 1 }])
      // The rate limit on the wire: one announce each at start-up, the next 5 minutes away.
      assert.strictEqual(group.heard().filter((a) => a.port === seederPort).length, 1)
      assert.strictEqual(group.heard().filter((a) => a.port === leecherPort).length, 1)
      const connected = log.all().find((e) => e._tag === "PeerConnected")
      assert.strictEqual(connected?._tag === "PeerConnected" ? connected.peer.split(":")[0] : undefined, "127.0.0.1")
    }), 40_000)

  liveWith(loopbackMulticast)("a private torrent is never announced; a public one added after it is", () =>
    Effect.gen(function*() {
      const group = yield* listenToGroup
      const root = yield* tempDir()
      yield* writePayload(join(root, "secret"), { "s.bin": 100_000 })
      const secret = yield* createTorrent(join(root, "secret"), { pieceLength: PIECE, private: true }).pipe(Effect.provide(NodeFileSystem.layer), Effect.orDie)
      assert.isTrue(secret.metainfo.private)
      const secretHash = secret.metainfo.infoHash === null ? "" : toHex(secret.metainfo.infoHash)
      const open = yield* makeTorrent(root, "open", { "o.bin": 100_000 }, PIECE)
      const openHash = toHex(open.infoHash)

      const client = yield* startClient(root, { lsd: true })
      const port = yield* portOf(client)
      // The private torrent first: had it been queued for an announce, it would be in the
      // client's first datagram (the queue is first in, first out), alone or with the public one.
      const added = yield* client.add(secret.torrent)
      yield* added.whenComplete.pipe(Effect.timeout("5 seconds"))
      yield* client.add(open.torrent)
      const first = yield* group.waitFor(`from port ${port}`, (a) => a.port === port)
      assert.notInclude(first.infoHashes, secretHash, "the private torrent was announced")
      assert.deepStrictEqual(first.infoHashes, [openHash])
    }), 30_000)
})
