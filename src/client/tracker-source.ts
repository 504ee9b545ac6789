import { Effect, Stream } from "effect"
import type { EncryptionPolicy } from "../mse/index.ts"
import type { PeerSource } from "../torrent/index.ts"
import { makeAnnouncer, Tracker } from "../tracker/index.ts"

/**
 * Peers from the torrent's trackers: one announcer per torrent (BEP 12 tiers), which
 * announces `started`, re-announces on each tracker's interval, `completed` when the
 * download finishes during this run, and `stopped` when the torrent's active scope closes.
 * HTTP trackers are told whether we support or require encryption (`supportcrypto`,
 * `requirecrypto`) when `encryption` is given.
 */
export const trackerSource = (tracker: Tracker["Service"], encryption?: EncryptionPolicy): PeerSource => (hooks) =>
  Effect.gen(function*() {
    if (hooks.trackers.length === 0) return
    const alreadyComplete = (yield* hooks.stats).left === 0
    const announcer = yield* makeAnnouncer({
      trackers: hooks.trackers,
      infoHash: hooks.infoHash,
      peerId: hooks.peerId,
      port: hooks.port,
      ...(encryption === undefined || encryption === "disable" ? {} : { crypto: encryption === "require" ? "required" : "supported" }),
      stats: hooks.stats,
      onPeers: (peers) => hooks.addPeers(peers, "tracker"),
      ...(hooks.trace === undefined ? {} : { trace: hooks.trace.event })
    }).pipe(Effect.provideService(Tracker, tracker))
    if (!alreadyComplete) yield* Effect.forkScoped(hooks.completed.pipe(Effect.andThen(announcer.completed)))
    yield* Effect.forkScoped(
      Stream.runForEach(announcer.changes, (statuses) =>
        Effect.forEach(statuses, (s) =>
          hooks.reportTracker(s.url, s.state !== "error", s.peers, s.error ?? s.warning ?? null), { discard: true }))
    )
  })
