/** Human-facing number formatting and parsing shared by the commands. Pure. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"] as const

/** 1536 → "1.5 KiB"; whole bytes below 1 KiB ("512 B"). Binary units, like the rest of BitTorrent. */
export const formatBytes = (n: number): string => {
  if (!Number.isFinite(n) || n < 1024) return `${n} B`
  let value = n
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  const digits = value >= 10 ? 1 : 2
  // Drop trailing zeros so powers of two read "256 KiB", not "256.0 KiB".
  return `${Number(value.toFixed(digits))} ${UNITS[unit]}`
}

/** "12.3 MiB/s" */
export const formatRate = (bytesPerSecond: number): string => `${formatBytes(Math.round(bytesPerSecond))}/s`

const FACTORS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3
}

/**
 * Parses a byte size: "262144", "256KiB", "256k", "1M", "1 MiB", "2GB".
 * Units are case-insensitive and always binary (K/KB/KiB = 1024): sizes
 * here are piece lengths and buffers, which are powers of two.
 * Returns undefined for anything else (fractions, negatives, unknown units, overflow).
 */
export const parseSize = (input: string): number | undefined => {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(input)
  if (match === null) return undefined
  const factor = FACTORS[(match[2] ?? "").toLowerCase()]
  if (factor === undefined) return undefined
  const value = Number(match[1]) * factor
  return Number.isSafeInteger(value) ? value : undefined
}

/** A value on one line: control characters (from a torrent someone else wrote) are escaped. */
export const oneLine = (s: string): string =>
  // eslint-disable-next-line no-control-regex
  s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)
