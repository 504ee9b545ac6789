/**
 * Whole swarms of our real client on the simulated network, in virtual time: peers
 * trade with each other, survive the seed leaving, ban a liar, ride out a tracker outage
 * and a partition, finish despite slow and silent peers, scale to 200 peers, and replay
 * byte for byte under a seed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { addressOf, runScenario, type ScenarioReport, summarize } from "../src/sim/index.ts"
import { eventsOf, simEventsOf } from "./support/trace.ts"

const KiB = 1024
const MiB = 1024 * KiB

const linesOf = (report: ScenarioReport, kind: string) => eventsOf(report.trace, kind)
const simLinesOf = (report: ScenarioReport, kind: string) => simEventsOf(report.trace, kind)

const completionOf = (report: ScenarioReport, name: string) => report.peers.find((p) => p.name === name)?.completedAtMs ?? null

describe("simulated swarms", () => {
  it.effect("1 seed + 50 leechers on 64 MiB: all complete, most data comes from other leechers", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 50,
        torrent: { size: 64 * MiB, pieceLength: 256 * KiB },
        seeds: 1,
        leechers: 50,
        tracePieces: false
      })
      const s = summarize(report)
      assert.isTrue(report.allComplete, JSON.stringify(s))
      assert.strictEqual(s.completed, 50)
      assert.isBelow(s.seedShare, 0.25, `share from the seed: ${s.seedShare}`)
      for (const p of report.peers.filter((p) => p.role === "leecher")) {
        assert.isAtLeast(p.bytesFromSeeds + p.bytesFromPeers, 64 * MiB)
      }
      // the seed's 10 MB/s uplink alone would need 50 × 64 MiB / 10 MB/s ≈ 335 s
      assert.isBelow(s.completion.max ?? Infinity, 200_000)
    }), 600_000)

  it.effect("the seed leaves once the leechers together hold a full copy: everyone still completes", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 2,
        torrent: { size: 8 * MiB, pieceLength: 128 * KiB },
        leechers: 20,
        faults: [{ at: "full-copy", kind: "leave", hosts: ["seed-0"] }],
        tracePieces: false
      })
      assert.isTrue(report.allComplete)
      const left = simLinesOf(report, "leave")
      assert.strictEqual(left.length, 1)
      const leftAt = left[0]?.t ?? Infinity
      const after = report.peers.filter((p) => p.role === "leecher" && (p.completedAtMs ?? 0) > leftAt)
      assert.isAbove(after.length, 0, "some leechers completed only after the seed had left")
    }), 120_000)

  it.effect("a peer serving corrupt blocks is banned and everyone ends with the exact content", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 3,
        torrent: { size: 4 * MiB, pieceLength: 64 * KiB },
        leechers: 10,
        corruptPeers: 1,
        storage: "memory",
        verifyData: true
      })
      assert.isTrue(report.allComplete)
      assert.strictEqual(report.dataVerified, true)
      assert.isAbove(report.hashFailures, 0)
      const bans = linesOf(report, "ban")
      assert.isAbove(bans.length, 0)
      const liar = addressOf("corrupt", 0)
      for (const b of bans) assert.isTrue(String(b.peer).startsWith(`${liar}:`), `only the liar is banned: ${JSON.stringify(b)}`)
    }), 120_000)

  it.effect("the tracker is down for 5 virtual minutes: announces back off, then the swarm forms", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 4,
        torrent: { size: 2 * MiB, pieceLength: 64 * KiB },
        leechers: 10,
        faults: [
          { at: 1, kind: "crash", hosts: ["tracker"] },
          { at: 300_000, kind: "restart", hosts: ["tracker"] }
        ],
        tracePieces: false
      })
      assert.isTrue(report.allComplete)
      const announces = simLinesOf(report, "tracker-announce")
      const connects = simLinesOf(report, "tracker-connect")
      assert.isTrue(connects.every((c) => c.t >= 300_000 || c.t < 1), "nothing reached the tracker while it was down")
      assert.isAbove(announces.length, 10)
      const first = Math.min(...announces.filter((a) => a.t >= 300_000).map((a) => a.t))
      // the announcers were backing off (retry 15 s doubling, UDP retransmits 15·2^n s), yet came back within minutes
      assert.isBelow(first - 300_000, 240_000)
      for (const p of report.peers.filter((p) => p.role === "leecher")) assert.isAbove(p.completedAtMs ?? 0, 300_000)
    }), 120_000)

  it.effect("half the swarm partitioned off, then healed: everyone completes", () =>
    Effect.gen(function*() {
      const cut = Array.from({ length: 10 }, (_, i) => `leecher-${i}`)
      const report = yield* runScenario({
        seed: 5,
        torrent: { size: 16 * MiB, pieceLength: 256 * KiB },
        leechers: 20,
        faults: [
          { at: 500, kind: "partition", hosts: cut },
          { at: 60_000, kind: "heal" }
        ],
        tracePieces: false
      })
      assert.isTrue(report.allComplete)
      const outside = report.peers.filter((p) => p.role === "leecher" && !cut.includes(p.name))
      const inside = report.peers.filter((p) => cut.includes(p.name))
      assert.isTrue(outside.every((p) => (p.completedAtMs ?? Infinity) < 60_000), "the seed's side finishes during the partition")
      assert.isTrue(inside.every((p) => (p.completedAtMs ?? 0) > 60_000), "the cut-off side needs the heal")
      assert.strictEqual(simLinesOf(report, "heal").length, 1)
    }), 120_000)

  it.effect("slow seeds do not hold the last pieces hostage: endgame finishes from the fast one", () =>
    Effect.gen(function*() {
      const slow = { uploadBps: 2_000 }
      const report = yield* runScenario({
        seed: 6,
        torrent: { size: 4 * MiB, pieceLength: 64 * KiB },
        seeds: 5,
        leechers: 1,
        links: { "seed-1": slow, "seed-2": slow, "seed-3": slow, "seed-4": slow },
        tracePieces: false
      })
      assert.isTrue(report.allComplete)
      const leecher = report.peers.find((p) => p.role === "leecher")
      // 4 MiB at 10 MB/s is under a second; one 16 KiB block from a slow seed takes 8 s,
      // and a request only times out after 30 s
      assert.isBelow(leecher?.completedAtMs ?? Infinity, 6_000)
      const asked = (seed: string) => report.traffic.find((t) => t.from === "leecher-0" && t.to === seed)?.bytes ?? 0
      // handshake + extended handshake + interested is ~200 bytes; requests are 17 bytes each
      assert.isTrue(["seed-1", "seed-2", "seed-3", "seed-4"].some((n) => asked(n) > 400), "the slow seeds were sent requests")
    }), 120_000)

  it.effect("peers that accept connections and never answer time out; nothing stalls", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 7,
        torrent: { size: 2 * MiB, pieceLength: 64 * KiB },
        leechers: 5,
        silentPeers: 3,
        // the seed is away for the first minute: meanwhile the leechers only know the silent peers
        faults: [{ at: 1, kind: "crash", hosts: ["seed-0"] }, { at: 60_000, kind: "restart", hosts: ["seed-0"] }],
        tracePieces: false,
        deadlineMs: 600_000
      })
      assert.isTrue(report.allComplete)
      const silent = [0, 1, 2].map((i) => addressOf("silent", i))
      const dropped = linesOf(report, "close").filter((d) => silent.some((s) => String(d.peer).startsWith(`${s}:`)))
      assert.isAtLeast(dropped.length, 5, "every leecher gave up on the silent peers")
      assert.isTrue(dropped.every((d) => /time/i.test(String(d.reason))), JSON.stringify(dropped[0]))
    }), 120_000)

  it.effect("a 200-peer swarm completes", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({
        seed: 8,
        torrent: { size: 4 * MiB, pieceLength: 128 * KiB },
        seeds: 2,
        leechers: 200,
        tracePieces: false
      })
      const s = summarize(report)
      assert.isTrue(report.allComplete, JSON.stringify(s))
      assert.isBelow(s.seedShare, 0.2)
    }), 600_000)

  it.effect("the same seed gives the same trace byte for byte; another seed another trace", () =>
    Effect.gen(function*() {
      const spec = { torrent: { size: 2 * MiB, pieceLength: 64 * KiB }, leechers: 8, network: { udp: { loss: 0.05 } } }
      const a = yield* runScenario({ ...spec, seed: "same" })
      const b = yield* runScenario({ ...spec, seed: "same" })
      const c = yield* runScenario({ ...spec, seed: "other" })
      assert.isTrue(a.allComplete && b.allComplete && c.allComplete)
      assert.isAbove(a.trace.length, 100)
      assert.strictEqual(a.trace.join("\n"), b.trace.join("\n"))
      assert.notStrictEqual(a.trace.join("\n"), c.trace.join("\n"))
      assert.deepStrictEqual(a.peers, b.peers)
      assert.strictEqual(completionOf(a, "leecher-0"), completionOf(b, "leecher-0"))
    }), 120_000)
})
