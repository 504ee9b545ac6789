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

/**
 * A class, not closures: every session has two meters, and methods on a prototype cost a
 * peer nothing, where four closures, their context and a typed array (an ArrayBuffer and
 * its backing store) cost about 0.6 KiB a meter (issue 15, idle peers).
 */
class SlidingRateMeter implements RateMeter {
  /** Made at the first `add`: a meter of an idle peer never counts anything. */
  private buckets: Array<number> | undefined = undefined
  private currentSecond = -1
  private totalBytes = 0
  private startedSecond = -1
  private readonly windowSeconds: number
  constructor(windowSeconds: number) {
    this.windowSeconds = windowSeconds
  }

  // Zero the buckets for seconds that passed without traffic.
  private roll(buckets: Array<number>, second: number): void {
    if (this.currentSecond < 0) {
      this.currentSecond = second
      this.startedSecond = second
      return
    }
    const gap = Math.min(second - this.currentSecond, this.windowSeconds)
    for (let i = 1; i <= gap; i++) buckets[(this.currentSecond + i) % this.windowSeconds] = 0
    if (second > this.currentSecond) this.currentSecond = second
  }

  add(bytes: number, nowMillis: number): void {
    const buckets = (this.buckets ??= new Array<number>(this.windowSeconds).fill(0))
    const second = Math.floor(nowMillis / 1000)
    this.roll(buckets, second)
    const i = second % this.windowSeconds
    buckets[i] = (buckets[i] ?? 0) + bytes
    this.totalBytes += bytes
  }

  rate(nowMillis: number): number {
    const second = Math.floor(nowMillis / 1000)
    // nothing added yet (the only way to have no buckets)
    if (this.currentSecond < 0 || this.buckets === undefined) return 0
    this.roll(this.buckets, second)
    let sum = 0
    for (const b of this.buckets) sum += b
    // A young meter averages over the time it has existed, not the whole window.
    const elapsed = Math.min(this.windowSeconds, Math.max(1, nowMillis / 1000 - this.startedSecond))
    return sum / elapsed
  }

  total(): number {
    return this.totalBytes
  }
}

export const makeRateMeter = (windowSeconds = 5): RateMeter => new SlidingRateMeter(windowSeconds)
