/**
 * `createClient`, the Promise facade, as a JavaScript user calls it: a seeder and a leecher
 * on 127.0.0.1 with real files, states and events through listeners, pause/resume, remove,
 * close; and a client that cannot be built (its port is taken) rejects and leaves nothing
 * running behind (its DHT socket, its hashing threads).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Dgram from "node:dgram"
import { join } from "node:path"
import { createClient, type PromiseClient, type TorrentEvent, type TorrentState } from "../src/index.ts"
import { tempDir } from "./support/files.ts"
import { differingFiles, makeTorrent } from "./support/torrent-fixture.ts"
import { eventually } from "./support/waiting.ts"

/** A client closed with the test's scope (a test that fails half-way leaves nothing running). */
const promiseClient = (config: Parameters<typeof createClient>[0]) =>
  Effect.acquireRelease(Effect.promise(() => createClient(config)), (client) => Effect.promise(() => client.close()))

const udpSockets = () => process.getActiveResourcesInfo().filter((kind) => kind === "UDPWrap").length

describe("createClient", () => {
  it.live("seeds from a path, downloads from it, reports states and events to listeners, pauses, removes, closes", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const fixture = yield* makeTorrent(source, "payload", { "a.bin": 300_000, "sub/b.bin": 77_777 }, 32 * 1024)
      const torrentPath = join(source, "payload.torrent")
      yield* Effect.promise(() => import("node:fs/promises").then((fs) => fs.writeFile(torrentPath, fixture.torrent)))

      const seeder: PromiseClient = yield* promiseClient({ host: "127.0.0.1", port: 0, downloadDirectory: source, hashThreads: 0 })
      assert.isNumber(seeder.port)
      const seeding = yield* Effect.promise(() => seeder.add(torrentPath))
      assert.strictEqual(seeding.name, "payload")
      assert.strictEqual(seeding.infoHash, Buffer.from(fixture.infoHash).toString("hex"))
      yield* Effect.promise(() => seeding.whenComplete())
      yield* eventually("the seeder's state to say seeding", Effect.sync(seeding.state), (s) => s.status === "seeding")

      const out = yield* tempDir()
      const leecher = yield* promiseClient({ host: "127.0.0.1", port: 0, downloadDirectory: out })
      const leeching = yield* Effect.promise(() => leecher.add(fixture.torrent, { peers: [{ host: "127.0.0.1", port: seeder.port ?? 0 }] }))
      const states: Array<TorrentState> = []
      const events: Array<TorrentEvent> = []
      const stopStates = leeching.onState((s) => states.push(s))
      const stopEvents = leeching.onEvent((e) => events.push(e))
      yield* Effect.promise(() => leeching.whenComplete())
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])
      yield* eventually("the Completed event", Effect.sync(() => events), (all) => all.some((e) => e._tag === "Completed"))
      assert.isTrue(events.some((e) => e._tag === "PeerConnected"))
      assert.strictEqual(events.filter((e) => e._tag === "PieceVerified").length, fixture.metainfo.pieceCount)
      yield* eventually("a state that says seeding", Effect.sync(() => states), (all) => all.some((s) => s.status === "seeding"))
      assert.strictEqual(states[0]?.infoHash, seeding.infoHash, "the listener gets the current state first")

      // After unsubscribing, listeners hear nothing more (a pause would publish a new state).
      stopStates()
      stopEvents()
      const heard = states.length
      yield* Effect.promise(() => leeching.pause())
      assert.strictEqual(leeching.state().status, "paused")
      yield* Effect.promise(() => leeching.resume())
      assert.strictEqual(leeching.state().status, "seeding")
      assert.strictEqual(states.length, heard)

      yield* Effect.promise(() => leeching.remove())
      const again = yield* Effect.promise(() => leecher.add(fixture.torrent))
      yield* Effect.promise(() => again.whenComplete())
      assert.strictEqual(again.state().piecesVerified, fixture.metainfo.pieceCount, "re-added: the data on disk is checked, complete")
    }))

  it.live("a bad torrent rejects add with a typed error; the client keeps working", () =>
    Effect.gen(function*() {
      const client = yield* promiseClient({ host: "127.0.0.1", port: 0, downloadDirectory: yield* tempDir(), hashThreads: 0 })
      const error = yield* Effect.promise(() => client.add(new TextEncoder().encode("not a torrent")).then(() => undefined, (e: unknown) => e))
      assert.instanceOf(error, Error)
      assert.strictEqual((error as { readonly _tag?: unknown })._tag, "ClientError")
      assert.isNumber(client.port)
    }))

  it.live("when the client cannot be built, it rejects and what was already started is released", () =>
    Effect.gen(function*() {
      // The DHT's UDP port is taken; the layers built before it (the tracker's UDP socket, the
      // hashing threads) must not outlive the failed client (Node closes sockets asynchronously).
      const blocker = yield* Effect.acquireRelease(
        Effect.callback<Dgram.Socket>((resume) => {
          const socket = Dgram.createSocket("udp4")
          socket.bind(0, "127.0.0.1", () => resume(Effect.succeed(socket)))
        }),
        (socket) => Effect.callback<void>((resume) => { socket.close(() => resume(Effect.void)) })
      )
      const directory = yield* tempDir()
      const before = udpSockets()
      const outcome = yield* Effect.promise(() =>
        createClient({ host: "127.0.0.1", port: 0, downloadDirectory: directory, dht: { port: blocker.address().port, bootstrap: [] } }).then(
          (client) => client.close().then(() => "built" as const),
          (e: unknown) => ({ error: e, udp: udpSockets() })
        )
      )
      if (outcome === "built") return assert.fail("a client was built with its DHT port in use")
      assert.match(String(outcome.error), /already in use/)
      assert.isAtLeast(outcome.udp, before)
      yield* eventually("the failed client's UDP sockets to close", Effect.sync(udpSockets), (n) => n === before)
    }))
})
