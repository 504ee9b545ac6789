/** What a scenario run reports: per-peer statistics, swarm totals, the trace. */
import { readTrace } from "../trace/summary.ts"
import type { TraceLine } from "../trace/schema.ts"
import { PieceIndex } from "../ids.ts"
import { Effect } from "effect"
import { bytesEqual } from "../bytes.ts"
import type { Storage } from "../storage/index.ts"
import type { SimTorrent } from "./content.ts"
import type { Role, SimHost } from "./hosts.ts"
import type { ReportInput, RunEvent } from "./report-model.ts"
import type { World } from "./world.ts"
import { percentile } from "../trace/summary.ts"

export interface PeerReport {
  readonly name: string
  readonly address: string
  readonly role: Role
  /** Virtual ms at which every piece was verified, or null. */
  readonly completedAtMs: number | null
  /** TCP bytes received from seed hosts, and from every other host. */
  readonly bytesFromSeeds: number
  readonly bytesFromPeers: number
  /** TCP bytes this host sent. */
  readonly bytesUploaded: number
}

export interface ScenarioReport {
  readonly seed: string | number
  /** Every leecher that did not leave completed. */
  readonly allComplete: boolean
  /** Virtual time when the run stopped. */
  readonly virtualMs: number
  readonly peers: ReadonlyArray<PeerReport>
  readonly bans: number
  readonly hashFailures: number
  /** With memory storage and `verifyData`: every completed leecher holds the exact content. */
  readonly dataVerified: boolean | null
  /** TCP bytes per (from, to) host name pair that carried any. */
  readonly traffic: ReadonlyArray<{ readonly from: string; readonly to: string; readonly bytes: number }>
  /** JSON lines, in the order things happened. */
  readonly trace: ReadonlyArray<string>
  /** What the run cost the machine running it (not part of the trace: it depends on the machine). */
  readonly cost: RunCost
}

export interface RunCost {
  /** Events run: the virtual-time engine's (fiber wake-ups, timers) and the network's (deliveries). */
  readonly events: number
  /** The most TCP connection ends open at once (each is one peer session of a client). */
  readonly peakSessions: number
  /**
   * JS heap used when the sessions peaked, minus the heap before any host started, per
   * session: an upper bound on a session's cost (it includes partial pieces, pickers, and
   * garbage not yet collected).
   */
  readonly heapPerSession: number
}

export const trafficByName = (world: World, hosts: ReadonlyArray<SimHost>) => {
  const names = new Map(hosts.map((h) => [h.address, h.name]))
  return world.traffic().map(([from, to, bytes]) => ({ from: names.get(from) ?? from, to: names.get(to) ?? to, bytes }))
}

export const peerReports = (
  world: World,
  hosts: ReadonlyArray<SimHost>,
  completedAt: ReadonlyMap<string, number>
): Array<PeerReport> => {
  const seeds = hosts.filter((h) => h.role === "seed").map((h) => h.address)
  return hosts.filter((h) => h.role !== "tracker").map((h) => {
    const state = world.host(h.address)
    let fromSeeds = 0
    for (const s of seeds) fromSeeds += world.bytesBetween(s, h.address)
    const received = state?.bytesReceived ?? 0
    return {
      name: h.name,
      address: h.address,
      role: h.role,
      completedAtMs: completedAt.get(h.name) ?? null,
      bytesFromSeeds: fromSeeds,
      bytesFromPeers: received - fromSeeds,
      bytesUploaded: state?.bytesSent ?? 0
    }
  })
}

/** Reads every piece back from each storage and compares it with the content. */
export const verifyMemoryCopies = (torrent: SimTorrent, storages: ReadonlyArray<Storage["Service"] | undefined>) =>
  Effect.gen(function*() {
    const { pieceLength, pieceCount } = torrent.metainfo
    for (const storage of storages) {
      if (storage === undefined) return false
      const same = yield* Effect.scoped(Effect.gen(function*() {
        const opened = yield* storage.open(torrent.metainfo, { directory: "/sim" })
        for (let i = 0; i < pieceCount; i++) {
          const start = i * pieceLength
          const end = Math.min(torrent.content.length, start + pieceLength)
          const bytes = yield* opened.read(PieceIndex(i), 0, end - start)
          if (!bytesEqual(bytes, torrent.content.subarray(start, end))) return false
        }
        return true
      })).pipe(Effect.orElseSucceed(() => false))
      if (!same) return false
    }
    return true
  })

export interface Summary {
  readonly leechers: number
  readonly completed: number
  /** Virtual completion times of the leechers that completed, ms. */
  readonly completion: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly max: number | null }
  readonly bytesFromSeeds: number
  readonly bytesFromPeers: number
  /** Share of the leechers' received bytes that came from seeds. */
  readonly seedShare: number
  readonly bans: number
  readonly hashFailures: number
  readonly virtualMs: number
}


export const summarize = (report: ScenarioReport): Summary => {
  const leechers = report.peers.filter((p) => p.role === "leecher")
  const times = leechers.flatMap((p) => (p.completedAtMs === null ? [] : [p.completedAtMs])).sort((a, b) => a - b)
  const fromSeeds = leechers.reduce((n, p) => n + p.bytesFromSeeds, 0)
  const fromPeers = leechers.reduce((n, p) => n + p.bytesFromPeers, 0)
  return {
    leechers: leechers.length,
    completed: times.length,
    completion: { p50: percentile(times, 50), p90: percentile(times, 90), p99: percentile(times, 99), max: times.at(-1) ?? null },
    bytesFromSeeds: fromSeeds,
    bytesFromPeers: fromPeers,
    seedShare: fromSeeds + fromPeers === 0 ? 0 : fromSeeds / (fromSeeds + fromPeers),
    bans: report.bans,
    hashFailures: report.hashFailures,
    virtualMs: report.virtualMs
  }
}

/**
 * A scenario's report as the HTML report's input (report-model.ts): its trace, and each
 * host's bytes received and sent.
 */
/**
 * A trace (docs/TRACE.md, real or simulated) as the report's events: verified and failed
 * pieces, completions, bans, and the simulation's departures. A real run's lines have no
 * host: they are the host "local".
 */
export const runEventsOf = (lines: ReadonlyArray<TraceLine>): Array<RunEvent> =>
  lines.flatMap((l): Array<RunEvent> => {
    const host = l.host ?? "local"
    const ev = l.ev
    switch (ev.type) {
      case "piece-verified":
        return [{ t: l.t, kind: "piece", host, piece: ev.index }]
      case "piece-failed":
        return [{ t: l.t, kind: "hash-failed", host, piece: ev.index, peers: ev.from.join(",") }]
      case "complete":
        return [{ t: l.t, kind: "complete", host }]
      case "ban":
        return l.peer === undefined ? [] : [{ t: l.t, kind: "ban", host, peer: l.peer.addr }]
      case "sim": {
        const h = ev.data?.host
        return (ev.kind === "leave" || ev.kind === "crash" || ev.kind === "restart") && typeof h === "string" ? [{ t: l.t, kind: ev.kind, host: h }] : []
      }
      default:
        return []
    }
  })

export const reportInputOf = (
  report: ScenarioReport,
  torrent: { readonly size: number; readonly pieceLength: number },
  title: string,
  facts: ReadonlyArray<readonly [string, string]> = []
): ReportInput => ({
  title,
  size: torrent.size,
  pieceLength: torrent.pieceLength,
  hosts: report.peers.map((p) => ({ name: p.name, role: p.role, uploaded: p.bytesUploaded, downloaded: p.bytesFromSeeds + p.bytesFromPeers })),
  events: runEventsOf(readTrace(report.trace.join("\n")).lines),
  facts,
  endMs: report.virtualMs
})
