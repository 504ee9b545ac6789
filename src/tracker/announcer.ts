/**
 * One torrent's announce loop over its tracker tiers (BEP 12).
 *
 * Each round walks the tiers in order and the trackers of a tier in order,
 * stopping at the first tracker that answers; that tracker moves to the front
 * of its tier (tiers are shuffled once at start). After an answer the loop
 * sleeps for the tracker's interval; when every tracker failed it backs off
 * exponentially with jitter. Tracker failures never escape: they only show up
 * in `status`. Closing the announcer's scope sends `stopped` (bounded by a
 * timeout) to every tracker that was told `started`.
 */
import { Clock, Duration, Effect, Queue, Random, Schedule, type Scope, type Stream, SubscriptionRef } from "effect"
import type { Address } from "../net/index.ts"
import { Tracker } from "./Tracker.ts"
import type { AnnounceEvent, AnnounceRequest, TrackerError } from "./types.ts"
import type { TraceEvent } from "../trace/schema.ts"

export interface AnnouncerOptions {
  /** BEP 12 tiers of announce URLs. */
  readonly trackers: ReadonlyArray<ReadonlyArray<string>>
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly port: number
  /** Read before every announce. */
  readonly stats: Effect.Effect<{ readonly uploaded: number; readonly downloaded: number; readonly left: number }>
  /** Called with each non-empty peer list; its failures are logged, never propagated. */
  readonly onPeers: (peers: ReadonlyArray<Address>) => Effect.Effect<void>
  readonly numwant?: number
  readonly key?: number
  /** MSE/PE support to tell HTTP trackers (`AnnounceRequest.crypto`). */
  readonly crypto?: AnnounceRequest["crypto"]
  /** Bound on one announce attempt before failing over to the next tracker. Default 60 s. */
  readonly announceTimeout?: Duration.Input
  /** Bound on the `stopped` announces sent when the scope closes. Default 5 s. */
  readonly stoppedTimeout?: Duration.Input
  /** Floor under a tracker's interval (guards against interval 0). Default 60 s. */
  readonly minimumInterval?: Duration.Input
  /** First backoff delay after a round where every tracker failed; doubles each time. Default 15 s. */
  readonly retryBase?: Duration.Input
  /** Cap of the backoff delay. Default 30 minutes. */
  readonly retryMax?: Duration.Input
  /** Told of every announce and its answer (the torrent's trace, docs/TRACE.md). */
  readonly trace?: (dir: "in" | "out", event: TraceEvent) => void
}

export interface TrackerStatus {
  readonly url: string
  /** Index of the tier (0 = first). */
  readonly tier: number
  readonly state: "idle" | "announcing" | "ok" | "error"
  /** Peers in the last successful answer. */
  readonly peers: number
  readonly seeders?: number
  readonly leechers?: number
  /** Last error, while `state` is "error". */
  readonly error?: string
  readonly warning?: string
  /** Epoch milliseconds (Effect Clock). */
  readonly lastAnnounce?: number
  readonly nextAnnounce?: number
}

export interface Announcer {
  /** Trackers in current tier order. */
  readonly status: Effect.Effect<ReadonlyArray<TrackerStatus>>
  readonly changes: Stream.Stream<ReadonlyArray<TrackerStatus>>
  /** The download finished: announce `completed` now (as soon as the min interval allows). */
  readonly completed: Effect.Effect<void>
  /** Ask for peers now (as soon as the min interval allows). */
  readonly reannounce: Effect.Effect<void>
}

interface Entry {
  readonly url: string
  readonly tier: number
  /** The tracker accepted an announce from us, so it must hear `stopped`. */
  started: boolean
  status: TrackerStatus
}

/** Ceiling for a tracker-chosen interval, so a bogus value cannot park the loop forever. */
const MAX_INTERVAL_MS = 24 * 3600 * 1000

class AllTrackersFailed {
  readonly _tag = "AllTrackersFailed"
}

export const makeAnnouncer = Effect.fn("makeAnnouncer")(function*(
  options: AnnouncerOptions
): Effect.fn.Return<Announcer, never, Tracker | Scope.Scope> {
  const tracker = yield* Tracker
  const announceTimeout = Duration.fromInputUnsafe(options.announceTimeout ?? "60 seconds")
  const stoppedTimeout = Duration.fromInputUnsafe(options.stoppedTimeout ?? "5 seconds")
  const floorMs = Duration.toMillis(options.minimumInterval ?? "60 seconds")
  const retryBase = Duration.fromInputUnsafe(options.retryBase ?? "15 seconds")
  const retryMaxMs = Duration.toMillis(options.retryMax ?? "30 minutes")

  const seen = new Set<string>()
  const tiers: Array<Array<Entry>> = []
  for (const tier of options.trackers) {
    const urls = tier.filter((url) => !seen.has(url) && (seen.add(url), true))
    if (urls.length === 0) continue
    const index = tiers.length
    tiers.push((yield* Random.shuffle(urls)).map((url) => ({
      url,
      tier: index,
      started: false,
      status: { url, tier: index, state: "idle", peers: 0 }
    })))
  }

  const state = yield* SubscriptionRef.make<ReadonlyArray<TrackerStatus>>([])
  const publish = Effect.suspend(() => SubscriptionRef.set(state, tiers.flatMap((tier) => tier.map((e) => e.status))))
  const setStatus = (entry: Entry, patch: Partial<TrackerStatus>) => {
    entry.status = { ...entry.status, ...patch }
  }
  yield* publish

  let completedPending = false
  let lastAnnounceMs = 0
  let minIntervalMs = 0
  // wakes the sleeping loop early (completed, reannounce)
  const wake = yield* Queue.sliding<void>(1)

  const request = (event: AnnounceEvent | undefined) =>
    Effect.map(options.stats, (stats): AnnounceRequest => ({
      infoHash: options.infoHash,
      peerId: options.peerId,
      port: options.port,
      uploaded: stats.uploaded,
      downloaded: stats.downloaded,
      left: stats.left,
      ...(event !== undefined ? { event } : {}),
      ...(options.numwant !== undefined ? { numwant: options.numwant } : {}),
      ...(options.key !== undefined ? { key: options.key } : {}),
      ...(options.crypto !== undefined ? { crypto: options.crypto } : {})
    }))

  const deliver = (peers: ReadonlyArray<Address>) =>
    peers.length === 0
      ? Effect.void
      : options.onPeers(peers).pipe(
        Effect.catchCause((cause) => Effect.logWarning("announcer: onPeers failed", cause))
      )

  /** One BEP 12 round; returns the delay until the next regular announce. */
  const round: Effect.Effect<number, AllTrackersFailed> = Effect.gen(function*() {
    for (const tier of tiers) {
      for (let i = 0; i < tier.length; i++) {
        const entry = tier[i]
        if (entry === undefined) continue
        const event: AnnounceEvent | undefined = completedPending ? "completed" : entry.started ? undefined : "started"
        setStatus(entry, { state: "announcing" })
        yield* publish
        options.trace?.("out", { type: "tracker-request", url: entry.url, ...(event === undefined ? {} : { event }) })
        const result = yield* request(event).pipe(
          Effect.flatMap((req) => tracker.announce(entry.url, req)),
          Effect.timeoutOrElse({
            duration: announceTimeout,
            orElse: () => Effect.fail<TrackerError | { readonly message: string }>({ message: `no answer within ${Duration.format(announceTimeout)}` })
          }),
          Effect.result
        )
        const now = yield* Clock.currentTimeMillis
        if (result._tag === "Failure") {
          options.trace?.("in", { type: "tracker-reply", url: entry.url, error: result.failure.message })
          setStatus(entry, { state: "error", error: result.failure.message, lastAnnounce: now })
          yield* publish
          continue
        }
        const response = result.success
        options.trace?.("in", { type: "tracker-reply", url: entry.url, peers: response.peers.length, interval: response.interval })
        entry.started = true
        if (event === "completed") completedPending = false
        // BEP 12: a tracker that answers moves to the front of its tier
        tier.splice(i, 1)
        tier.unshift(entry)
        minIntervalMs = Math.min(MAX_INTERVAL_MS, (response.minInterval ?? 0) * 1000)
        const delay = Math.min(MAX_INTERVAL_MS, Math.max(response.interval * 1000, minIntervalMs, floorMs))
        lastAnnounceMs = now
        const { error: _error, warning: _warning, ...rest } = entry.status
        entry.status = {
          ...rest,
          state: "ok",
          peers: response.peers.length,
          lastAnnounce: now,
          nextAnnounce: now + delay,
          ...(response.complete !== undefined ? { seeders: response.complete } : {}),
          ...(response.incomplete !== undefined ? { leechers: response.incomplete } : {}),
          ...(response.warning !== undefined ? { warning: response.warning } : {})
        }
        yield* publish
        yield* deliver(response.peers)
        return delay
      }
    }
    return yield* Effect.fail(new AllTrackersFailed())
  })

  // Exponential backoff with jitter, capped; records when the next round will happen.
  const backoff = Schedule.exponential(retryBase).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Math.min(Duration.toMillis(duration), retryMaxMs))),
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) =>
      Effect.gen(function*() {
        const next = (yield* Clock.currentTimeMillis) + Duration.toMillis(duration)
        for (const tier of tiers) for (const entry of tier) setStatus(entry, { nextAnnounce: next })
        yield* publish
        return duration
      })
    )
  )

  /** Sleeps `delayMs`, or less when woken, but never before the min interval has passed. */
  const waitNext = (delayMs: number) =>
    Effect.raceFirst(
      Effect.sleep(Duration.millis(delayMs)),
      Queue.take(wake).pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.flatMap((now) => Effect.sleep(Duration.millis(Math.max(0, lastAnnounceMs + minIntervalMs - now))))
      )
    )

  const loop = Effect.gen(function*() {
    while (true) {
      const delay = yield* round.pipe(Effect.retry(backoff))
      yield* waitNext(delay)
    }
  })

  // Registered before the loop is forked, so it runs after the loop was interrupted.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const started = tiers.flat().filter((e) => e.started)
      if (started.length === 0) return
      const req = yield* request("stopped")
      for (const e of started) options.trace?.("out", { type: "tracker-request", url: e.url, event: "stopped" })
      yield* Effect.forEach(started, (e) => Effect.ignore(tracker.announce(e.url, req)), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.interruptible, Effect.timeoutOption(stoppedTimeout))
    })
  )
  if (tiers.length > 0) yield* Effect.forkScoped(loop)

  return {
    status: SubscriptionRef.get(state),
    changes: SubscriptionRef.changes(state),
    completed: Effect.suspend(() => {
      completedPending = true
      return Queue.offer(wake, undefined)
    }).pipe(Effect.asVoid),
    reannounce: Queue.offer(wake, undefined).pipe(Effect.asVoid)
  }
})
