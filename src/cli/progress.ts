/**
 * A one-line progress bar on stderr, redrawn in place. Only drawn when stderr
 * is a terminal: piped/redirected output stays clean for scripts. Time comes
 * from Effect's Clock (never Date.now), redraws are throttled to ~10/s.
 */
import { Clock, Effect } from "effect"
import { formatBytes, formatRate } from "./units.ts"

export interface ProgressBar {
  /** Records progress; redraws at most every 100 ms (and always at 100%). */
  readonly update: (done: number, total: number) => Effect.Effect<void>
  /** Leaves the last state on its own line (nothing if nothing was drawn); safe to run on failure. */
  readonly finish: Effect.Effect<void>
}

const REDRAW_MS = 100

/** What the bar counts: bytes (hashing a file) or pieces (checking existing data). */
export type ProgressUnit = "bytes" | "pieces"

const amount = (n: number, unit: ProgressUnit): string => unit === "bytes" ? formatBytes(n) : `${n}`
const perSecond = (n: number, unit: ProgressUnit): string =>
  unit === "bytes" ? formatRate(n) : `${n < 10 ? n.toFixed(1) : Math.round(n)} pieces/s`

/** The bar's text for a terminal `columns` wide. Pure. */
export const renderProgress = (
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  columns: number,
  unit: ProgressUnit = "bytes"
): string => {
  const ratio = total > 0 ? Math.min(1, done / total) : 1
  const percent = `${(ratio * 100).toFixed(1).padStart(5)}%`
  const rate = elapsedMs > 0 ? perSecond((done * 1000) / elapsedMs, unit) : ""
  // Fixed-width fields so the bar does not jitter as the numbers change.
  const count = unit === "bytes"
    ? `${amount(done, unit).padStart(10)} / ${amount(total, unit)}`
    : `${amount(done, unit).padStart(String(total).length)} / ${total} pieces`
  const tail = `${percent} ${count} ${rate.padStart(unit === "bytes" ? 12 : 14)}`
  const room = columns - label.length - tail.length - 5
  if (room < 10) return `${label} ${tail}`.slice(0, Math.max(0, columns - 1))
  const width = Math.min(40, room)
  const filled = Math.round(ratio * width)
  return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${tail}`
}

/** A bar that draws nothing (`--quiet`, or stderr is not a terminal). */
export const silentProgressBar: ProgressBar = { update: () => Effect.void, finish: Effect.void }

/** A bar on process.stderr, or a silent one when stderr is not a TTY. */
export const makeProgressBar = Effect.fn("makeProgressBar")(function*(label: string, unit: ProgressUnit = "bytes") {
  const stderr = process.stderr
  if (!stderr.isTTY) return silentProgressBar
  const start = yield* Clock.currentTimeMillis
  let lastDraw = -Infinity
  let last = { done: 0, total: 0 }
  const draw = (now: number) =>
    Effect.sync(() => {
      lastDraw = now
      stderr.write(`\r${renderProgress(label, last.done, last.total, now - start, stderr.columns || 80, unit)}\x1b[K`)
    })
  const bar: ProgressBar = {
    update: (done, total) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        last = { done, total }
        return now - lastDraw >= REDRAW_MS || done >= total ? draw(now) : Effect.void
      }),
    finish: Effect.flatMap(Clock.currentTimeMillis, (now) =>
      lastDraw === -Infinity ? Effect.void : Effect.andThen(draw(now), Effect.sync(() => void stderr.write("\n"))))
  }
  return bar
})
