/**
 * Sizes, rates and durations as people type and read them: one set of rules for the whole
 * command line. Pure.
 *
 * **When to use**
 *
 * Every flag that takes a size (`--piece-length`, `--size`), a rate (`--upload-limit`,
 * `--bandwidth`) or a duration (`--seed-time`, `--latency`), and every place that shows one.
 *
 * **Details**
 *
 * - A size is a number, optionally with a fraction, and an optional unit: `B`, `K`/`KB`/`KiB`,
 *   `M`/`MB`/`MiB`, `G`/`GB`/`GiB`, `T`/`TB`/`TiB`, `P`/`PB`/`PiB`, any case, blanks allowed between. Units are
 *   always binary (K = 1024): sizes here are piece lengths and buffers, powers of two. The
 *   result is rounded to a whole byte. `1.5M`, `256k`, `262144` are all sizes.
 * - A rate is a size per second, with an optional `/s`: `500k`, `1.5MiB/s`.
 * - A duration is one or more `<number><unit>` parts, units `ms`, `s`, `m`, `h`, `d` (so
 *   `90s`, `1h30m`, `1.5s`, `1h 30m`: what `Duration.format` writes), or a bare number in the
 *   unit the flag names.
 * - Negative numbers, unknown units, and values beyond `Number.MAX_SAFE_INTEGER` are refused
 *   (undefined). Whether 0 is allowed is the flag's business.
 *
 * **Example**
 *
 * ```ts
 * import { formatBytes, parseDuration, parseRate, parseSize } from "./units.ts"
 * parseSize("256KiB") // 262144
 * parseRate("1.5M/s") // 1572864
 * parseDuration("1h30m", "seconds") // Duration of 90 minutes
 * formatBytes(1536) // "1.5 KiB"
 * ```
 */
import { Duration } from "effect"

const NUMBER = String.raw`(\d+(?:\.\d+)?)`

const SIZE_FACTORS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }

const SIZE = new RegExp(String.raw`^\s*${NUMBER}\s*(?:([kmgtp])(?:i?b)?|(b))?\s*$`, "i")
const RATE = new RegExp(String.raw`^\s*${NUMBER}\s*(?:([kmgtp])(?:i?b)?|(b))?\s*(?:/\s*s)?\s*$`, "i")

const bytesOf = (match: RegExpExecArray | null): number | undefined => {
  if (match === null) return undefined
  const factor = SIZE_FACTORS[(match[2] ?? match[3] ?? "").toLowerCase()]
  if (factor === undefined) return undefined
  const value = Math.round(Number(match[1]) * factor)
  return Number.isSafeInteger(value) ? value : undefined
}

/** A size in bytes (see the module's rules); undefined for anything else. */
export const parseSize = (input: string): number | undefined => bytesOf(SIZE.exec(input))

/** A rate in bytes per second: a size with an optional `/s`; undefined for anything else. */
export const parseRate = (input: string): number | undefined => bytesOf(RATE.exec(input))

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** The unit of a bare number, which each flag names in its help. */
export type BareUnit = "millis" | "seconds"

/** A duration (see the module's rules); a bare number counts in `bareUnit`. Undefined for anything else. */
export const parseDuration = (input: string, bareUnit: BareUnit): Duration.Duration | undefined => {
  const text = input.trim()
  const bare = new RegExp(String.raw`^${NUMBER}$`).exec(text)
  if (bare !== null) {
    const n = Number(bare[1])
    return bareUnit === "millis" ? Duration.millis(n) : Duration.seconds(n)
  }
  const part = new RegExp(String.raw`${NUMBER}\s*(ms|s|m|h|d)\s*`, "gi")
  let millis = 0
  let at = 0
  for (const m of text.matchAll(part)) {
    if (m.index !== at) return undefined
    millis += Number(m[1]) * (DURATION_UNITS[(m[2] ?? "").toLowerCase()] ?? Number.NaN)
    at += m[0].length
  }
  return at === 0 || at !== text.length || !Number.isSafeInteger(Math.round(millis)) ? undefined : Duration.millis(millis)
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const

/** 1536 → "1.5 KiB"; whole bytes below 1 KiB ("512 B"). Binary units, like the parsers. */
export const formatBytes = (n: number): string => {
  if (!Number.isFinite(n) || n < 1024) return `${n} B`
  let value = n
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const digits = value >= 10 ? 1 : 2
  // Drop trailing zeros so powers of two read "256 KiB", not "256.0 KiB".
  return `${Number(value.toFixed(digits))} ${BYTE_UNITS[unit]}`
}

/** "12.3 MiB/s" */
export const formatRate = (bytesPerSecond: number): string => `${formatBytes(Math.round(bytesPerSecond))}/s`

/** A time left, as a status line shows it: "45s", "3m05s", "2h07m"; "--" when unknown. */
export const formatEta = (seconds: number | null): string => {
  if (seconds === null || !Number.isFinite(seconds)) return "--"
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
}
