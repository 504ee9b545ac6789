/**
 * The parts of a torrent on their own (torrent/core.ts): the published side (progress.ts:
 * completion once, the first storage error stops it) and the ban policy (bans.ts), on a
 * core of real pieces (in-memory storage, the picker) with no session and no network.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, PubSub, Ref, SubscriptionRef } from "effect"
import { infoHashOf, type PeerKey, peerKey } from "../src/ids.ts"
import { makeRateMeter } from "../src/peer/index.ts"
import { makePicker } from "../src/scheduler/picker.ts"
import { MemoryStorage, Storage } from "../src/storage/index.ts"
import { ban } from "../src/torrent/bans.ts"
import { type TorrentShared, wantedBytesOf } from "../src/torrent/core.ts"
import type { TorrentError } from "../src/torrent/errors.ts"
import { makePeerBook } from "../src/torrent/peer-book.ts"
import { failStorage, markComplete } from "../src/torrent/progress.ts"
import { makeSmartBan } from "../src/torrent/smart-ban.ts"
import type { TorrentEvent, TorrentState, TorrentStatus } from "../src/torrent/state.ts"
import { makeWebSeedSlots } from "../src/torrent/web-seeds.ts"
import { makeFixture } from "./storage-helpers.ts"

const PIECE = 16384

/** A core over three pieces; `have` says which are verified already (all: the picker is complete). */
const coreOf = (have: number) =>
  Effect.gen(function*() {
    const { meta } = makeFixture([{ path: ["a"], length: 3 * PIECE }], PIECE)
    const storage = yield* (yield* Storage).open(meta, { directory: "/parts", maxPartialPieces: 4, maxPartialBytes: 4 * PIECE })
    const picker = makePicker<PeerKey>({
      pieceCount: 3, pieceLength: PIECE, totalSize: 3 * PIECE, have: new Uint8Array([have]), maxOpenPieces: 4, sequential: false
    })
    if (picker._tag === "Failure") return yield* Effect.die(picker.failure)
    const infoHashBytes = meta.infoHash ?? new Uint8Array(20)
    const priorities = meta.files.map(() => 1 as const)
    const events = yield* PubSub.unbounded<TorrentEvent>()
    const core: TorrentShared = {
      meta, infoHash: infoHashOf(infoHashBytes), infoHashBytes, storage, picker: picker.success,
      links: new Map(), book: makePeerBook(), smartBan: makeSmartBan<PeerKey>(), webSeedSlots: makeWebSeedSlots(),
      events,
      state: yield* SubscriptionRef.make<TorrentState>({
        infoHash: infoHashOf(infoHashBytes), name: meta.name, status: "checking", wantedBytes: 0, verifiedBytes: 0, progress: 0,
        pieceCount: 3, piecesVerified: 0, downloaded: 0, uploaded: 0, downloadRate: 0, uploadRate: 0,
        peers: 0, seeds: 0, candidates: 0, eta: null, error: null, trackers: []
      }),
      status: yield* Ref.make<TorrentStatus>("downloading"),
      complete: yield* Deferred.make<void, TorrentError>(),
      downloadMeter: makeRateMeter(), uploadMeter: makeRateMeter(),
      trackerStatus: new Map(), trace: null, now: () => 0,
      priorities, wantedBytes: wantedBytesOf(meta, priorities), errorMessage: null
    }
    const seen = yield* PubSub.subscribe(events)
    return { core, seen }
  })

/** The events published so far (takeAll alone would wait for one). */
const drain = (q: PubSub.Subscription<TorrentEvent>) =>
  Effect.flatMap(PubSub.remaining(q), (n): Effect.Effect<ReadonlyArray<TorrentEvent>> => n === 0 ? Effect.succeed([]) : PubSub.takeAll(q))
const tags = (q: PubSub.Subscription<TorrentEvent>) => Effect.map(drain(q), (all) => all.map((e) => e._tag))

describe("torrent parts", () => {
  it.effect("markComplete: nothing while pieces are missing; then seeding, Completed and whenComplete, once", () =>
    Effect.gen(function*() {
      const missing = yield* coreOf(0b1100_0000)
      yield* markComplete(missing.core)
      assert.isFalse(Deferred.isDoneUnsafe(missing.core.complete))
      assert.deepStrictEqual(yield* tags(missing.seen), [])

      const { core, seen } = yield* coreOf(0b1110_0000)
      yield* markComplete(core)
      yield* markComplete(core)
      assert.strictEqual(yield* Ref.get(core.status), "seeding")
      yield* Deferred.await(core.complete)
      assert.deepStrictEqual(yield* tags(seen), ["Completed"], "published once")
      assert.strictEqual((yield* SubscriptionRef.get(core.state)).status, "seeding")
    }).pipe(Effect.scoped, Effect.provide(MemoryStorage.layer)))

  it.effect("failStorage: the first error stops the torrent (status, event, whenComplete, stop); later ones change nothing", () =>
    Effect.gen(function*() {
      const { core, seen } = yield* coreOf(0)
      let stops = 0
      const stop = Effect.sync(() => { stops++ })
      yield* failStorage(core, "disk full", stop)
      yield* failStorage(core, "another error", stop)
      assert.strictEqual(stops, 1)
      assert.strictEqual(core.errorMessage, "disk full")
      assert.strictEqual(yield* Ref.get(core.status), "error")
      assert.deepStrictEqual(yield* tags(seen), ["Error"])
      const error = yield* Effect.flip(Deferred.await(core.complete))
      assert.strictEqual(error.reason, "Storage")
      assert.strictEqual(error.message, "disk full")
      const state = yield* SubscriptionRef.get(core.state)
      assert.strictEqual(state.error, "disk full")
    }).pipe(Effect.scoped, Effect.provide(MemoryStorage.layer)))

  it.effect("ban: the book never hands the address out again, and a PeerBanned event says why", () =>
    Effect.gen(function*() {
      const { core, seen } = yield* coreOf(0)
      const liar = { host: "10.0.0.9", port: 6881 }
      core.book.add([liar, { host: "10.0.0.8", port: 6881 }], "tracker", 0)
      yield* ban(core, [peerKey(liar)], "sent a bad piece")
      assert.isTrue(core.book.isBanned(peerKey(liar)))
      assert.deepStrictEqual(core.book.next(0), { host: "10.0.0.8", port: 6881 })
      assert.isUndefined(core.book.next(0))
      const events = yield* drain(seen)
      assert.deepStrictEqual(events, [{ _tag: "PeerBanned", peer: peerKey(liar), reason: "sent a bad piece" }])
    }).pipe(Effect.scoped, Effect.provide(MemoryStorage.layer)))
})
