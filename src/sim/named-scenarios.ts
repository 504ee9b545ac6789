/**
 * Named scenarios for `effect-torrent simulate --scenario <name>`: a swarm shape, a fault
 * plan, and the outcome expected of our client, written down and checked after the run.
 *
 * **When to use**
 *
 * To watch the client through a classic situation without writing a `ScenarioSpec`; the
 * size, peer count, network and seed still come from the command line. `check` returns
 * the expectations that did not hold (empty: as documented).
 *
 * **Example**
 *
 * ```ts
 * const scenario = namedScenarios["seed-leaves"]
 * const spec = scenario.spec({ seed: 1, leechers: 50, seeds: 1, torrent: { size: 16 * MiB, pieceLength: 256 * KiB } })
 * const report = yield* runScenario(spec)
 * scenario.check(report, spec) // []
 * ```
 */
import { readTrace } from "../trace/summary.ts"
import { runEventsOf, summarize, type ScenarioReport } from "./report.ts"
import type { ScenarioSpec } from "./scenario.ts"

/** What the command line gives every scenario. */
export type ScenarioBase = Omit<ScenarioSpec, "faults" | "corruptPeers" | "clients">

export interface NamedScenario {
  readonly name: string
  readonly description: string
  /** The outcome expected, in words (what `check` verifies). */
  readonly expected: string
  readonly spec: (base: ScenarioBase) => ScenarioSpec
  /** The expectations that did not hold, as sentences; empty when all did. */
  readonly check: (report: ScenarioReport, spec: ScenarioSpec) => ReadonlyArray<string>
}

const leecherNames = (spec: { readonly leechers: number }) => Array.from({ length: spec.leechers }, (_, i) => `leecher-${i}`)
const seedNames = (spec: { readonly seeds?: number }) => Array.from({ length: spec.seeds ?? 1 }, (_, i) => `seed-${i}`)

// The trace as the report reads it (docs/TRACE.md lines as t/kind/host events).
const events = (report: ScenarioReport) => runEventsOf(readTrace(report.trace.join("\n")).lines)
const lines = (report: ScenarioReport, kind: string) => events(report).filter((e) => e.kind === kind)

const failures = (...checks: ReadonlyArray<readonly [boolean, string]>) => checks.filter(([ok]) => !ok).map(([, why]) => why)

const allComplete = (report: ScenarioReport) =>
  [report.allComplete, `not every leecher completed (${summarize(report).completed}/${summarize(report).leechers})`] as const

/** Time for the seeds alone to upload one copy, at the spec's uplink (default 10 MB/s). */
const copyMs = (spec: ScenarioBase) => (1000 * spec.torrent.size) / (spec.network?.uploadBps ?? 10 * 1024 * 1024)

const flashCrowd: NamedScenario = {
  name: "flash-crowd",
  description: "every leecher arrives at once, with one seed and nothing else to get the data from",
  expected: "every leecher completes, and most of the bytes come from other leechers, not the seed",
  spec: (base) => ({ ...base, seeds: base.seeds ?? 1 }),
  check: (report) => {
    const s = summarize(report)
    return failures(allComplete(report), [s.seedShare < 0.5, `${(100 * s.seedShare).toFixed(1)} % came from seeds`])
  }
}

const seedLeaves: NamedScenario = {
  name: "seed-leaves",
  description: "the seeds leave for good the moment the leechers together hold a full copy",
  expected: "every leecher still completes, some of them only after the seeds left, from each other",
  spec: (base) => ({ ...base, faults: [{ at: "full-copy", kind: "leave", hosts: seedNames(base) }] }),
  check: (report) => {
    const left = lines(report, "leave")
    const leftAt = Math.min(...left.map((l) => l.t))
    const after = report.peers.filter((p) => p.role === "leecher" && (p.completedAtMs ?? 0) > leftAt)
    return failures(allComplete(report), [left.length > 0, "the seeds never left"], [after.length > 0, "nobody completed after the seeds left"])
  }
}

const corrupt10: NamedScenario = {
  name: "corrupt-10",
  description: "10 % of the peers (at least one) hold the torrent but serve a byte in every 997 flipped",
  expected: "pieces from them fail their hash check, every corrupt peer is banned by someone, and every honest leecher completes",
  spec: (base) => ({ ...base, corruptPeers: Math.max(1, Math.round(base.leechers / 10)) }),
  check: (report, spec) => {
    const banned = new Set(events(report).flatMap((e) => (e.kind === "ban" && e.peer !== undefined ? [e.peer] : [])))
    const corrupt = report.peers.filter((p) => p.role === "corrupt")
    const unbanned = corrupt.filter((p) => ![...banned].some((b) => b.startsWith(`${p.address}:`)))
    return failures(
      allComplete(report),
      [report.hashFailures > 0, "no hash failure: the corrupt peers sent nothing"],
      [corrupt.length === (spec.corruptPeers ?? 0) && unbanned.length === 0, `never banned: ${unbanned.map((p) => p.name).join(", ")}`]
    )
  }
}

/** When the partition heals: long enough for the seed's side to finish alone. */
const healAt = (spec: ScenarioBase) => Math.max(20_000, Math.ceil(6 * copyMs(spec)))

const partitionHeal: NamedScenario = {
  name: "partition-heal",
  description: "half the leechers are cut off from the seeds and the rest at 0.5 s, and the network heals later (20 s, or six times a copy's upload time from one seed)",
  expected: "the seeds' side completes during the partition; the cut-off half completes only after the heal; nobody is left behind",
  spec: (base) => {
    const half = leecherNames(base).slice(0, Math.floor(base.leechers / 2))
    return { ...base, faults: [{ at: 500, kind: "partition", hosts: half }, { at: healAt(base), kind: "heal" }] }
  },
  check: (report, spec) => {
    const cut = new Set(leecherNames(spec).slice(0, Math.floor(spec.leechers / 2)))
    const heal = healAt(spec)
    const leechers = report.peers.filter((p) => p.role === "leecher")
    const outside = leechers.filter((p) => !cut.has(p.name))
    const inside = leechers.filter((p) => cut.has(p.name))
    return failures(
      allComplete(report),
      [outside.every((p) => (p.completedAtMs ?? Infinity) < heal), "a leecher on the seeds' side needed the heal"],
      [inside.every((p) => (p.completedAtMs ?? 0) > heal), "a cut-off leecher completed without the seeds"]
    )
  }
}

/** The churned leechers: every fifth crashes, in two waves, and comes back. */
const churned = (spec: { readonly leechers: number }) => leecherNames(spec).filter((_, i) => i % 5 === 0)

const churn: NamedScenario = {
  name: "churn",
  description: "every fifth leecher crashes (no goodbye) in two waves, at 1 s and 2 s, and each restarts 3 s later with what it had verified",
  expected: "every leecher completes, the churned ones included, and each churned leecher completes after its restart",
  spec: (base) => {
    const hosts = churned(base)
    const first = hosts.filter((_, i) => i % 2 === 0)
    const second = hosts.filter((_, i) => i % 2 === 1)
    return {
      ...base,
      faults: [
        { at: 1000, kind: "crash", hosts: first },
        { at: 2000, kind: "crash", hosts: second },
        { at: 4000, kind: "restart", hosts: first },
        { at: 5000, kind: "restart", hosts: second }
      ]
    }
  },
  check: (report, spec) => {
    const hosts = new Set(churned(spec))
    const restartedAt = new Map(lines(report, "restart").flatMap((l) => (l.host !== undefined && hosts.has(l.host) ? [[l.host, l.t] as const] : [])))
    const early = report.peers.filter((p) => hosts.has(p.name) && (p.completedAtMs ?? Infinity) <= (restartedAt.get(p.name) ?? Infinity))
    return failures(
      allComplete(report),
      [restartedAt.size === hosts.size, `${restartedAt.size} of ${hosts.size} churned leechers restarted`],
      [early.length === 0, `completed before its restart (make the torrent bigger): ${early.map((p) => p.name).join(", ")}`]
    )
  }
}

const POLICIES = ["require", "disable", "prefer", "prefer"] as const

const mixed: NamedScenario = {
  name: "mixed",
  description: "transports and encryption mixed: by leecher, a third speak uTP only, a third TCP only, the rest both; " +
    "a quarter require MSE encryption, a quarter refuse it, the rest prefer it; the seeds speak both and prefer it",
  expected: "every leecher completes: not every pair shares a transport and an encryption policy, " +
    "but every leecher shares both with the seeds and with some other leechers",
  spec: (base) => {
    const clients: Record<string, { transports: ReadonlyArray<"utp" | "tcp">; encryption: (typeof POLICIES)[number] }> = {}
    leecherNames(base).forEach((name, i) => {
      clients[name] = {
        transports: i % 3 === 0 ? ["utp"] : i % 3 === 1 ? ["tcp"] : ["utp", "tcp"],
        encryption: POLICIES[i % POLICIES.length] ?? "prefer"
      }
    })
    for (const name of seedNames(base)) clients[name] = { transports: ["utp", "tcp"], encryption: "prefer" }
    return { ...base, clients }
  },
  check: (report) => failures(allComplete(report))
}

/** Every named scenario, by name. */
export const namedScenarios = {
  "flash-crowd": flashCrowd,
  "seed-leaves": seedLeaves,
  "corrupt-10": corrupt10,
  "partition-heal": partitionHeal,
  churn,
  mixed
} as const satisfies Record<string, NamedScenario>

export type ScenarioName = keyof typeof namedScenarios

export const scenarioNames = Object.keys(namedScenarios) as ReadonlyArray<ScenarioName>
