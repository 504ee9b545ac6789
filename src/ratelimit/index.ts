/**
 * Upload and download rate limits: token buckets on the Effect clock (Effect's own
 * `RateLimiter` with its in-memory store), so they run in virtual time too.
 *
 * A `Throttle` is asked for bytes before they move and sleeps as long as the bucket
 * needs; the bucket holds one second of the rate, so short bursts pass at once. Global
 * and per-torrent limits combine with `both`: a byte waits for both buckets.
 */
import { Duration, Effect } from "effect"
import { RateLimiter } from "effect/persistence"

export interface Throttle {
  readonly take: (bytes: number) => Effect.Effect<void>
  /**
   * True when no limit is in force now: `take` would let any number of bytes through at
   * once, and change nothing. A sender may then skip it and stay synchronous.
   */
  readonly free: () => boolean
}

const always = () => true
const never = () => false

export const unlimited: Throttle = { take: () => Effect.void, free: always }

/** A limiter with its own in-memory store: one per client for its throttles, one per dialler, one per peer asking for hashes (its buckets go with it). */
export const makeLimiter: Effect.Effect<RateLimiter.RateLimiter> = RateLimiter.make.pipe(
  Effect.provide(RateLimiter.layerStoreMemory)
)

/** `bytesPerSecond` null or <= 0 means unlimited. */
export const makeThrottle = (limiter: RateLimiter.RateLimiter, key: string, bytesPerSecond: number | null): Throttle => {
  if (bytesPerSecond === null || bytesPerSecond <= 0) return unlimited
  const limit = Math.max(1, Math.floor(bytesPerSecond))
  return {
    take: (bytes) =>
      limiter.consume({ algorithm: "token-bucket", onExceeded: "delay", window: "1 second", limit, key, tokens: bytes }).pipe(
        Effect.flatMap((result) => Duration.isZero(result.delay) ? Effect.void : Effect.sleep(result.delay)),
        // The in-memory store cannot fail; should it ever, let the bytes through rather than stall a peer.
        Effect.catch(() => Effect.void)
      ),
    free: never
  }
}

/** A throttle whose rate can change while it is in use (the daemon's per-torrent and global limits). */
export interface AdjustableThrottle extends Throttle {
  readonly rate: () => number | null
  readonly setRate: (bytesPerSecond: number | null) => void
}

export const makeAdjustableThrottle = (
  limiter: RateLimiter.RateLimiter,
  key: string,
  bytesPerSecond: number | null
): AdjustableThrottle => {
  let rate = bytesPerSecond !== null && bytesPerSecond > 0 ? bytesPerSecond : null
  // A fresh bucket per change: the old one's tokens were counted at the old rate.
  let generation = 0
  let current = makeThrottle(limiter, `${key}#0`, rate)
  return {
    take: (bytes) => Effect.suspend(() => current.take(bytes)),
    free: () => current.free(),
    rate: () => rate,
    setRate: (next) => {
      rate = next !== null && next > 0 ? next : null
      current = makeThrottle(limiter, `${key}#${++generation}`, rate)
    }
  }
}

export const both = (a: Throttle, b: Throttle): Throttle =>
  a === unlimited ? b : b === unlimited ? a : {
    take: (bytes) => Effect.andThen(a.take(bytes), b.take(bytes)),
    free: () => a.free() && b.free()
  }
