/**
 * A torrent's published side: its state snapshot, its events, its completion and the
 * error that stops it (state.ts says what is published; core.ts what is shared).
 */
import { Deferred, Effect, PubSub, Ref, SubscriptionRef } from "effect"
import type { TorrentShared } from "./core.ts"
import { TorrentError } from "./errors.ts"
import type { TorrentEvent } from "./state.ts"

export const publish = (core: TorrentShared, event: TorrentEvent): Effect.Effect<void> =>
  PubSub.publish(core.events, event).pipe(Effect.asVoid)

/** Replaces `core.state` with a fresh snapshot (rates at this instant, counters, trackers). */
export const publishState = (core: TorrentShared): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { meta, storage, links, downloadMeter, uploadMeter, wantedBytes } = core
    const t = core.now()
    const verifiedBytes = yield* storage.bytesVerified
    const piecesVerified = yield* storage.verifiedCount
    const downloadRate = downloadMeter.rate(t)
    let seeds = 0
    for (const l of links.values()) if (l.stats.isSeed) seeds++
    const remaining = Math.max(0, wantedBytes - verifiedBytes)
    const status = yield* Ref.get(core.status)
    yield* SubscriptionRef.set(core.state, {
      infoHash: core.infoHash, name: meta.name, status, wantedBytes, verifiedBytes,
      progress: wantedBytes === 0 ? 1 : Math.min(1, verifiedBytes / wantedBytes),
      pieceCount: meta.pieceCount, piecesVerified,
      downloaded: downloadMeter.total(), uploaded: uploadMeter.total(),
      downloadRate, uploadRate: uploadMeter.rate(t),
      peers: links.size, seeds, candidates: core.book.candidates(),
      eta: remaining === 0 || downloadRate <= 0 ? null : Math.round(remaining / downloadRate),
      error: core.errorMessage, trackers: [...core.trackerStatus.values()]
    })
  })

/**
 * Once every wanted piece is verified: status "seeding", resume data saved, every session
 * told to upload only, `Completed` published and `complete` resolved, once. Does nothing
 * while pieces are missing; selecting more files later makes the torrent download again.
 */
export const markComplete = (core: TorrentShared): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (!core.picker.isComplete()) return
    const current = yield* Ref.get(core.status)
    if (current === "downloading") yield* Ref.set(core.status, "seeding")
    if (Deferred.isDoneUnsafe(core.complete)) return yield* publishState(core)
    // A resume record that cannot be written only costs a re-check later; a file that
    // vanished while open means the data is not on disk at all: that is no completion.
    yield* core.storage.saveResume.pipe(
      Effect.catch((e) => (e.reason === "Vanished" ? failStorage(core, e.message, Effect.void) : Effect.void))
    )
    if (core.errorMessage !== null) return
    for (const l of core.links.values()) l.uploadOnly()
    // State first: whoever wakes on `whenComplete` reads it.
    yield* publishState(core)
    core.trace?.event(undefined, { type: "complete" })
    yield* publish(core, { _tag: "Completed" })
    yield* Deferred.succeed(core.complete, undefined)
    yield* Effect.logDebug(`${core.meta.name}: complete`)
  })

/**
 * Stops the torrent on its first storage error: status "error", an `Error` event,
 * `whenComplete` fails, and `stop` (which ends the active part) runs. The blocks still in
 * flight may report more errors; only the first counts.
 */
export const failStorage = (core: TorrentShared, detail: string, stop: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (core.errorMessage !== null) return
    core.errorMessage = detail
    yield* Ref.set(core.status, "error")
    yield* publishState(core)
    core.trace?.event(undefined, { type: "error", detail })
    yield* publish(core, { _tag: "Error", message: detail })
    yield* Deferred.fail(core.complete, new TorrentError({ infoHash: core.infoHash, reason: "Storage", detail }))
    yield* stop
  })
