/**
 * What the HTML report plots (report-html.ts), computed from a run's events: the
 * completion-time CDF, swarm throughput, piece availability, each peer's upload against
 * its download, and bans and hash failures on the timeline.
 *
 * The input is a run's trace as events plus who took part, nothing specific to the
 * simulator, so a real run's trace renders the same way: events need only `t` (ms since
 * the start) and `kind`, and the kinds read are `piece` (`host` verified `piece`),
 * `complete` (`host` has everything), `ban` and `hash-failed` (at `host`, about `peer`/`peers`),
 * and `leave`/`crash`/`restart` (`host`). Any other kind is ignored.
 */

/** One trace event (a JSON line of `simulate --trace`). */
export interface RunEvent {
  readonly t: number
  readonly kind: string
  readonly host?: string
  readonly piece?: number
  readonly peer?: string
  readonly peers?: string
}

export interface RunHost {
  readonly name: string
  /** "seed" hosts start with every piece; "leecher" hosts make the completion CDF. */
  readonly role: string
  readonly uploaded?: number
  readonly downloaded?: number
}

export interface ReportInput {
  readonly title: string
  readonly size: number
  readonly pieceLength: number
  readonly hosts: ReadonlyArray<RunHost>
  /** In time order. */
  readonly events: ReadonlyArray<RunEvent>
  /** Shown as a table at the top, in this order. */
  readonly facts?: ReadonlyArray<readonly [string, string]>
  /** When the run ended (ms); default the last event's time. */
  readonly endMs?: number
}

export type Point = readonly [number, number]

export interface Incident {
  readonly t: number
  readonly kind: "ban" | "hash-failed"
  readonly host: string
  readonly peer: string
}

export interface ReportModel {
  readonly title: string
  readonly facts: ReadonlyArray<readonly [string, string]>
  readonly endMs: number
  /** (ms, share of leechers complete), a step per completion. */
  readonly completion: ReadonlyArray<Point>
  readonly leechers: number
  /** (ms at the bucket's end, MB/s verified in it). */
  readonly throughput: ReadonlyArray<Point>
  /** (ms, copies) of the rarest piece and the mean over pieces, sampled per bucket. */
  readonly availabilityMin: ReadonlyArray<Point>
  readonly availabilityMean: ReadonlyArray<Point>
  /** Per host with both totals: (downloaded, uploaded) bytes. */
  readonly upDown: ReadonlyArray<{ readonly name: string; readonly role: string; readonly downloaded: number; readonly uploaded: number }>
  readonly incidents: ReadonlyArray<Incident>
}

/** Buckets per run for the time series. */
const BUCKETS = 200

export const buildReportModel = (input: ReportInput): ReportModel => {
  const pieceCount = Math.max(1, Math.ceil(input.size / input.pieceLength))
  const pieceBytes = (piece: number) => Math.min(input.pieceLength, input.size - piece * input.pieceLength)
  const endMs = Math.max(1, input.endMs ?? input.events.at(-1)?.t ?? 1)
  const bucketMs = Math.max(1, Math.ceil(endMs / BUCKETS))
  const roles = new Map(input.hosts.map((h) => [h.name, h.role]))
  const leechers = input.hosts.filter((h) => h.role === "leecher").length

  // Piece availability: copies held by hosts that are up. Seeds hold every piece.
  const copies = new Uint32Array(pieceCount)
  const haves = new Map<string, Uint8Array>()
  const down = new Set<string>()
  const haveOf = (host: string) => {
    let have = haves.get(host)
    if (have === undefined) {
      have = new Uint8Array(pieceCount)
      if (roles.get(host) === "seed") have.fill(1)
      haves.set(host, have)
    }
    return have
  }
  for (const h of input.hosts) if (h.role === "seed") haveOf(h.name)
  for (const have of haves.values()) for (let i = 0; i < pieceCount; i++) copies[i] = (copies[i] ?? 0) + (have[i] ?? 0)
  const shift = (have: Uint8Array, by: 1 | -1) => {
    for (let i = 0; i < pieceCount; i++) if (have[i] === 1) copies[i] = (copies[i] ?? 0) + by
  }

  const completion: Array<Point> = [[0, 0]]
  const completed = new Set<string>()
  const throughput: Array<Point> = []
  const availabilityMin: Array<Point> = []
  const availabilityMean: Array<Point> = []
  const incidents: Array<Incident> = []
  let bucketEnd = bucketMs
  let bucketBytes = 0
  const sample = (at: number) => {
    let min = Infinity
    let sum = 0
    for (let i = 0; i < pieceCount; i++) {
      const c = copies[i] ?? 0
      if (c < min) min = c
      sum += c
    }
    availabilityMin.push([at, min])
    availabilityMean.push([at, sum / pieceCount])
  }
  sample(0)
  const closeBucketsUntil = (t: number) => {
    while (t > bucketEnd) {
      throughput.push([bucketEnd, bucketBytes / 1e6 / (bucketMs / 1000)])
      sample(bucketEnd)
      bucketBytes = 0
      bucketEnd += bucketMs
    }
  }

  for (const e of input.events) {
    closeBucketsUntil(e.t)
    const host = e.host
    if (host === undefined) continue
    switch (e.kind) {
      case "piece": {
        const piece = e.piece
        if (piece === undefined || piece < 0 || piece >= pieceCount) break
        const have = haveOf(host)
        if (have[piece] === 1) break
        have[piece] = 1
        if (!down.has(host)) copies[piece] = (copies[piece] ?? 0) + 1
        bucketBytes += pieceBytes(piece)
        break
      }
      case "complete":
        if (roles.get(host) === "leecher" && !completed.has(host)) {
          completed.add(host)
          completion.push([e.t, completed.size / Math.max(1, leechers)])
        }
        break
      case "ban":
      case "hash-failed":
        incidents.push({ t: e.t, kind: e.kind, host, peer: e.peer ?? e.peers ?? "" })
        break
      case "leave":
      case "crash":
        if (!down.has(host)) {
          down.add(host)
          shift(haveOf(host), -1)
        }
        break
      case "restart":
        if (down.delete(host)) shift(haveOf(host), 1)
        break
    }
  }
  closeBucketsUntil(endMs)
  if (throughput.at(-1)?.[0] !== bucketEnd && bucketBytes > 0) throughput.push([bucketEnd, bucketBytes / 1e6 / (bucketMs / 1000)])
  completion.push([endMs, completed.size / Math.max(1, leechers)])

  const upDown = input.hosts.flatMap((h) =>
    h.uploaded === undefined || h.downloaded === undefined ? [] : [{ name: h.name, role: h.role, downloaded: h.downloaded, uploaded: h.uploaded }]
  )
  return {
    title: input.title,
    facts: input.facts ?? [],
    endMs,
    completion,
    leechers,
    throughput,
    availabilityMin,
    availabilityMean,
    upDown,
    incidents
  }
}
