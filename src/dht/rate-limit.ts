/**
 * Token buckets for incoming queries, driven by caller-supplied time (the
 * node reads Effect's Clock), so they run the same under TestClock.
 */

export interface RateLimit {
  /** Sustained queries per second. */
  readonly perSecond: number
  /** Queries allowed in a burst. */
  readonly burst: number
}

export interface TokenBucket {
  readonly tokens: number
  readonly updatedAt: number
}

export const fullBucket = (limit: RateLimit, now: number): TokenBucket => ({ tokens: limit.burst, updatedAt: now })

/** Refills for the time elapsed, then spends one token if there is one. */
export const take = (bucket: TokenBucket, limit: RateLimit, now: number): { readonly bucket: TokenBucket; readonly allowed: boolean } => {
  const elapsed = Math.max(0, now - bucket.updatedAt)
  const tokens = Math.min(limit.burst, bucket.tokens + elapsed * limit.perSecond / 1000)
  return tokens >= 1
    ? { bucket: { tokens: tokens - 1, updatedAt: now }, allowed: true }
    : { bucket: { tokens, updatedAt: now }, allowed: false }
}

/** At most this many per-source buckets are remembered (oldest forgotten first). */
export const MAX_SOURCES = 4096

/**
 * A global bucket plus one per source address; both must allow the query.
 * Mutable state owned by one node.
 */
export const makeLimiter = (global: RateLimit, perSource: RateLimit) => {
  let all: TokenBucket | undefined
  const sources = new Map<string, TokenBucket>()
  return (source: string, now: number): boolean => {
    const g = take(all ?? fullBucket(global, now), global, now)
    all = g.bucket
    if (!g.allowed) return false
    const s = take(sources.get(source) ?? fullBucket(perSource, now), perSource, now)
    sources.delete(source)
    sources.set(source, s.bucket)
    if (sources.size > MAX_SOURCES) {
      const oldest = sources.keys().next()
      if (oldest.done !== true) sources.delete(oldest.value)
    }
    return s.allowed
  }
}
