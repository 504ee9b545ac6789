/**
 * Transfer-rate meter over a sliding window of one-second buckets.
 *
 * Pure and clock-agnostic: callers pass the current time (from Effect's Clock), so
 * the same code measures real and virtual (simulated) time.
 */
export interface RateMeter {
  /** Record `bytes` transferred at `nowMillis`. */
  readonly add: (bytes: number, nowMillis: number) => void
  /** Average bytes per second over the window ending at `nowMillis`. */
  readonly rate: (nowMillis: number) => number
  /** Bytes ever recorded. */
  readonly total: () => number
}

export const makeRateMeter = (windowSeconds = 5): RateMeter => {
  const buckets = new Float64Array(windowSeconds)
  let currentSecond = -1
  let total = 0
  let startedSecond = -1

  // Zero the buckets for seconds that passed without traffic.
  const roll = (second: number): void => {
    if (currentSecond < 0) {
      currentSecond = second
      startedSecond = second
      return
    }
    const gap = Math.min(second - currentSecond, windowSeconds)
    for (let i = 1; i <= gap; i++) buckets[(currentSecond + i) % windowSeconds] = 0
    if (second > currentSecond) currentSecond = second
  }

  return {
    add: (bytes, nowMillis) => {
      const second = Math.floor(nowMillis / 1000)
      roll(second)
      buckets[second % windowSeconds] = (buckets[second % windowSeconds] ?? 0) + bytes
      total += bytes
    },
    rate: (nowMillis) => {
      const second = Math.floor(nowMillis / 1000)
      if (currentSecond < 0) return 0
      roll(second)
      let sum = 0
      for (const b of buckets) sum += b
      // A young meter averages over the time it has existed, not the whole window.
      const elapsed = Math.min(windowSeconds, Math.max(1, nowMillis / 1000 - startedSecond))
      return sum / elapsed
    },
    total: () => total
  }
}
