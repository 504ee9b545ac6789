/**
 * Reading a trace: the pure core of `effect-torrent trace FILE` and of reports.
 *
 * When to use: `readTrace(text)` decodes a file's lines (a torn last line, as a killed run
 * leaves, is skipped and said); `summarizeTrace(lines, filter)` counts what each peer said,
 * when it choked and unchoked, how long blocks took after their requests, who sent which
 * bytes, and why each connection ended.
 *
 * Details: a peer is one remote address seen by one host (`host` is absent in a real run).
 * Intervals are measured on the trace's own clock (`t`), so a simulated trace gives virtual
 * times. A request's latency runs from our `Request` (out) to the `Piece` (in) with the same
 * index and offset from the same peer; requests never answered are not counted.
 *
 * Example:
 * ```ts
 * const { lines } = readTrace(text)
 * const summary = summarizeTrace(lines, { kinds: ["Request", "Piece"] })
 * summary.latency.p50
 * ```
 */
import { Result } from "effect"
import { decodeTraceLine, type TraceLine } from "./schema.ts"

export interface ReadTrace {
  readonly lines: ReadonlyArray<TraceLine>
  /** Lines that did not decode (1-based line numbers), apart from a torn last line. */
  readonly bad: ReadonlyArray<{ readonly line: number; readonly message: string }>
  /** The file ended inside a line (a killed run): that line was skipped. */
  readonly torn: boolean
}

export const readTrace = (text: string): ReadTrace => {
  const raw = text.split("\n")
  const last = raw.length - 1
  const lines: Array<TraceLine> = []
  const bad: Array<{ line: number; message: string }> = []
  let torn = false
  raw.forEach((textLine, i) => {
    if (textLine === "") return
    const r = decodeTraceLine(textLine)
    if (Result.isSuccess(r)) lines.push(r.success)
    // The last line without its newline is a write the run did not finish.
    else if (i === last) torn = true
    else bad.push({ line: i + 1, message: r.failure.message.split("\n")[0] ?? "" })
  })
  return { lines, bad, torn }
}

export interface TraceFilter {
  /** Only lines about this peer: `host:port`, or a host (every port). */
  readonly peer?: string
  /** Only these event types (`Request`, `close`...). */
  readonly kinds?: ReadonlyArray<string>
}

export const matchesFilter = (line: TraceLine, filter: TraceFilter): boolean => {
  if (filter.kinds !== undefined && filter.kinds.length > 0 && !filter.kinds.includes(line.ev.type)) return false
  if (filter.peer !== undefined) {
    const addr = line.peer?.addr
    if (addr === undefined) return false
    if (addr !== filter.peer && !addr.startsWith(`${filter.peer}:`) && !addr.startsWith(`[${filter.peer}]:`)) return false
  }
  return true
}

export interface Interval {
  readonly from: number
  /** Null: still so when the trace ends (the peer's last line bounds it in `total`). */
  readonly to: number | null
}

export interface PeerSummary {
  readonly host?: string
  readonly addr: string
  readonly client?: string
  readonly transport?: string
  readonly encryption?: string
  /** Messages by type, per direction. */
  readonly received: Readonly<Record<string, number>>
  readonly sent: Readonly<Record<string, number>>
  /** Block bytes (`Piece` lengths) the peer sent us, and we sent it. */
  readonly bytesIn: number
  readonly bytesOut: number
  /** When the peer had us unchoked (its `Unchoke` to its `Choke` or the end of the connection). */
  readonly unchokedUs: ReadonlyArray<Interval>
  /** When we had the peer unchoked. */
  readonly unchokedByUs: ReadonlyArray<Interval>
  readonly closes: ReadonlyArray<{ readonly t: number; readonly reason: string; readonly detail: string }>
}

export interface Percentiles {
  readonly count: number
  readonly p50: number | null
  readonly p90: number | null
  readonly p99: number | null
  readonly max: number | null
}

export interface TraceSummary {
  readonly lines: number
  readonly firstT: number | null
  readonly lastT: number | null
  readonly peers: ReadonlyArray<PeerSummary>
  /** Request (out) to Piece (in), ms. */
  readonly latency: Percentiles
  readonly closes: ReadonlyArray<{ readonly t: number; readonly host?: string; readonly peer: string; readonly reason: string; readonly detail: string }>
  readonly closeReasons: Readonly<Record<string, number>>
  readonly piecesVerified: number
  readonly piecesFailed: number
  /** Per host (`""` in a real run): when it completed, if it did. */
  readonly completed: Readonly<Record<string, number>>
}

/** Nearest-rank percentile of sorted numbers. */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number | null =>
  sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null

export const percentiles = (values: ReadonlyArray<number>): Percentiles => {
  const sorted = [...values].sort((a, b) => a - b)
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted.at(-1) ?? null }
}

interface PeerAcc {
  host?: string
  addr: string
  client?: string
  transport?: string
  encryption?: string
  received: Record<string, number>
  sent: Record<string, number>
  bytesIn: number
  bytesOut: number
  unchokedUs: Array<{ from: number; to: number | null }>
  unchokedByUs: Array<{ from: number; to: number | null }>
  closes: Array<{ t: number; reason: string; detail: string }>
}

const open = (intervals: Array<{ from: number; to: number | null }>, t: number) => {
  const last = intervals.at(-1)
  if (last === undefined || last.to !== null) intervals.push({ from: t, to: null })
}
const shut = (intervals: Array<{ from: number; to: number | null }>, t: number) => {
  const last = intervals.at(-1)
  if (last !== undefined && last.to === null) last.to = t
}
const round = (ms: number) => Math.round(ms * 1000) / 1000

export const summarizeTrace = (all: ReadonlyArray<TraceLine>, filter: TraceFilter = {}): TraceSummary => {
  const peers = new Map<string, PeerAcc>()
  const requests = new Map<string, number>()
  const latencies: Array<number> = []
  const closes: Array<TraceSummary["closes"][number]> = []
  const closeReasons: Record<string, number> = {}
  const completed: Record<string, number> = {}
  let count = 0
  let firstT: number | null = null
  let lastT: number | null = null
  let verified = 0
  let failed = 0

  for (const line of all) {
    if (!matchesFilter(line, filter)) continue
    count++
    firstT ??= line.t
    lastT = line.t
    const { ev } = line
    if (ev.type === "piece-verified") verified++
    else if (ev.type === "piece-failed") failed++
    else if (ev.type === "complete") completed[line.host ?? ""] ??= line.t
    const peer = line.peer
    if (peer === undefined) continue
    const hostKey = line.host ?? ""
    const key = `${hostKey}|${peer.addr}`
    let acc = peers.get(key)
    if (acc === undefined) {
      acc = { addr: peer.addr, received: {}, sent: {}, bytesIn: 0, bytesOut: 0, unchokedUs: [], unchokedByUs: [], closes: [] }
      if (line.host !== undefined) acc.host = line.host
      peers.set(key, acc)
    }
    if (peer.client !== undefined) acc.client = peer.client
    if (peer.transport !== undefined) acc.transport = peer.transport
    if (peer.encryption !== undefined) acc.encryption = peer.encryption
    const incoming = line.dir === "in"
    if (line.dir !== undefined && /^[A-Z]/.test(ev.type)) {
      const counts = incoming ? acc.received : acc.sent
      counts[ev.type] = (counts[ev.type] ?? 0) + 1
    }
    switch (ev.type) {
      case "Request":
        if (!incoming) requests.set(`${key}|${ev.index}:${ev.begin}`, line.t)
        break
      case "Piece": {
        if (incoming) {
          acc.bytesIn += ev.length
          const rk = `${key}|${ev.index}:${ev.begin}`
          const sentAt = requests.get(rk)
          if (sentAt !== undefined) {
            latencies.push(round(line.t - sentAt))
            requests.delete(rk)
          }
        } else acc.bytesOut += ev.length
        break
      }
      case "Unchoke":
        open(incoming ? acc.unchokedUs : acc.unchokedByUs, line.t)
        break
      case "Choke":
        shut(incoming ? acc.unchokedUs : acc.unchokedByUs, line.t)
        break
      case "close":
        shut(acc.unchokedUs, line.t)
        shut(acc.unchokedByUs, line.t)
        acc.closes.push({ t: line.t, reason: ev.reason, detail: ev.detail })
        closes.push({ t: line.t, ...(line.host === undefined ? {} : { host: line.host }), peer: peer.addr, reason: ev.reason, detail: ev.detail })
        closeReasons[ev.reason] = (closeReasons[ev.reason] ?? 0) + 1
        break
    }
  }
  return {
    lines: count,
    firstT,
    lastT,
    peers: [...peers.values()],
    latency: percentiles(latencies),
    closes,
    closeReasons,
    piecesVerified: verified,
    piecesFailed: failed,
    completed
  }
}

/** Total time in intervals, an open one running to `end`. */
export const intervalTotal = (intervals: ReadonlyArray<Interval>, end: number): number =>
  intervals.reduce((sum, i) => sum + ((i.to ?? end) - i.from), 0)
