/**
 * LEDBAT congestion control for uTP (BEP 29, RFC 6817): the window grows while the
 * queueing delay our packets see stays below a target and shrinks when it rises above,
 * so uTP fills an idle link and backs off as soon as other traffic (TCP) builds a queue.
 * Pure: plain data and functions of it; time and delays are passed in.
 *
 * **When to use**
 *
 * One `Ledbat` per uTP connection, owned by its sender: `addDelaySample` for each delay
 * the remote reports (`timestamp_difference_microseconds`), `onAck` when packets are
 * acknowledged, `onLoss` / `onTimeout` on loss.
 *
 * **Details**
 *
 * - Base delay: the smallest reported delay of the last two minutes, kept as per-minute
 *   minima (one-way delays carry an unknown clock offset; only their growth means queueing).
 *   Delays are wrapping 32-bit microsecond counts and compared as such.
 * - Queueing delay: the smallest of the last 3 samples minus the base (filters noise).
 * - Growth: `gain · (target − delay) / target · acked / cwnd` per ack, that is, at most
 *   `gain` bytes per round trip, linear in how far below the target we are, and a
 *   decrease just as gain-limited above it (the factor is clamped to [−1, 1]). BEP 29's
 *   prose says the window shrinks when off_target is positive; its formula (followed
 *   here) grows it, as RFC 6817 does.
 * - Slow start until the delay first reaches the target, a loss, or the slow-start
 *   threshold: the window grows by the bytes acked (doubling per round trip).
 * - A window never drops below one packet (RFC 6817; BEP 29 allows 0 and waits for a
 *   time-out), and only grows while the sender is limited by it.
 */

export interface LedbatConfig {
  /** Queueing delay aimed at, microseconds. BEP 29: 100 ms. */
  readonly targetMicros: number
  /** Most the window grows per round trip in congestion avoidance, bytes. */
  readonly gainBytes: number
  /** Largest payload of one packet: the window's floor. */
  readonly packetBytes: number
  /** Ceiling of the window, bytes. */
  readonly maxWindow: number
  /** Window to start with, bytes. */
  readonly initialWindow: number
}

export const DEFAULT_LEDBAT: LedbatConfig = {
  targetMicros: 100_000,
  gainBytes: 3000,
  packetBytes: 1380,
  maxWindow: 8 * 1024 * 1024,
  initialWindow: 2 * 1380
}

const MINUTE_MS = 60_000
/** Minutes of history the base delay is the minimum of. */
const BASE_MINUTES = 2
const CURRENT_FILTER = 3

export interface Ledbat {
  readonly config: LedbatConfig
  /** Bytes that may be in flight. */
  cwnd: number
  slowStart: boolean
  /** Slow start ends once the window would pass this (Infinity: no threshold yet). */
  ssthresh: number
  /** Per-minute minima of the reported delay (wrapping µs), newest first; NaN = none yet. */
  readonly baseHistory: Array<number>
  minuteStartedAt: number
  /** The last few queueing-delay samples (µs). */
  readonly recent: Array<number>
  recentNext: number
  /** When the window was last cut for a loss (ms), so one burst of losses cuts once. */
  lastCutAt: number
}

export const makeLedbat = (config: LedbatConfig, nowMs: number): Ledbat => ({
  config,
  cwnd: config.initialWindow,
  slowStart: true,
  ssthresh: Infinity,
  baseHistory: Array.from({ length: BASE_MINUTES }, () => NaN),
  minuteStartedAt: nowMs,
  recent: Array.from({ length: CURRENT_FILTER }, () => NaN),
  recentNext: 0,
  lastCutAt: -Infinity
})

/** `a < b` for wrapping 32-bit counters. */
const before32 = (a: number, b: number): boolean => ((a - b) | 0) < 0

/** The base delay (wrapping µs) or NaN before the first sample. */
export const baseDelay = (l: Ledbat): number => {
  let base = NaN
  for (const m of l.baseHistory) if (!Number.isNaN(m) && (Number.isNaN(base) || before32(m, base))) base = m
  return base
}

/**
 * Records one delay reported by the remote (its `timestamp_difference_microseconds`, our
 * packets' one-way delay plus a clock offset). 0 means the remote had no sample yet.
 */
export const addDelaySample = (l: Ledbat, raw: number, nowMs: number): void => {
  if (raw === 0) return
  while (nowMs - l.minuteStartedAt >= MINUTE_MS) {
    l.baseHistory.pop()
    l.baseHistory.unshift(NaN)
    l.minuteStartedAt += MINUTE_MS
    // a long idle gap: start the minutes from now rather than replaying each one
    if (nowMs - l.minuteStartedAt >= BASE_MINUTES * MINUTE_MS) l.minuteStartedAt = nowMs
  }
  const current = l.baseHistory[0] ?? NaN
  if (Number.isNaN(current) || before32(raw, current)) l.baseHistory[0] = raw
  const base = baseDelay(l)
  const queueing = before32(raw, base) ? 0 : (raw - base) >>> 0
  l.recent[l.recentNext] = queueing
  l.recentNext = (l.recentNext + 1) % CURRENT_FILTER
}

/** The filtered queueing delay (µs): the smallest recent sample, 0 before any. */
export const queueingDelay = (l: Ledbat): number => {
  let min = Infinity
  for (const d of l.recent) if (!Number.isNaN(d) && d < min) min = d
  return min === Infinity ? 0 : min
}

/**
 * `acked` bytes were acknowledged; `inFlight` bytes were outstanding before this ack.
 * `windowLimited`: the sender had more to send than the window allowed (an application
 * that sends little must not inflate the window it never uses).
 */
export const onAck = (l: Ledbat, acked: number, inFlight: number, windowLimited: boolean): void => {
  if (acked <= 0 || inFlight <= 0) return
  const { targetMicros, gainBytes, packetBytes, maxWindow } = l.config
  const delay = queueingDelay(l)
  if (delay >= targetMicros && l.slowStart) {
    l.slowStart = false
    l.ssthresh = l.cwnd / 2
  }
  if (!windowLimited) return
  const delayFactor = Math.max(-1, Math.min(1, (targetMicros - delay) / targetMicros))
  const windowFactor = Math.min(1, acked / inFlight)
  let gain = gainBytes * delayFactor * windowFactor
  if (l.slowStart) {
    if (l.cwnd + acked > l.ssthresh) l.slowStart = false
    else gain = Math.max(gain, acked)
  }
  l.cwnd = Math.min(maxWindow, Math.max(packetBytes, l.cwnd + gain))
}

/** A packet was lost (3 duplicate acks or selective acks past it): halve, once per round trip. */
export const onLoss = (l: Ledbat, nowMs: number, rttMs: number): void => {
  if (nowMs - l.lastCutAt < Math.max(rttMs, 1)) return
  l.lastCutAt = nowMs
  l.slowStart = false
  l.cwnd = Math.max(l.config.packetBytes, l.cwnd / 2)
  l.ssthresh = l.cwnd
}

/** The retransmission timer fired: back to one packet, then slow start up to half the old window. */
export const onTimeout = (l: Ledbat, nowMs: number): void => {
  l.ssthresh = Math.max(l.config.packetBytes, l.cwnd / 2)
  l.cwnd = l.config.packetBytes
  l.slowStart = true
  l.lastCutAt = nowMs
}
