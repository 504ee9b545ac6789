/**
 * Smart ban in simulated swarms (our real client on the simulated network, virtual time):
 * one corrupt peer among 20 honest ones, across many seeds. At every leecher that took a bad
 * block from it, the liar is banned no later than the moment the first failed piece it
 * touched verifies (or at once, when it alone sent a failed piece), and no honest peer is
 * ever banned by anyone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { addressOf, runScenario } from "../src/sim/index.ts"
import { eventsOf } from "./support/trace.ts"

const KiB = 1024
const MiB = 1024 * KiB
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8]

describe("smart ban in simulated swarms", () => {
  it.effect(`1 corrupt peer among 20 honest ones: banned by its first bad piece, no honest peer banned (seeds ${SEEDS.join(", ")})`, () =>
    Effect.gen(function*() {
      const liar = `${addressOf("corrupt", 0)}:`
      const isLiar = (key: unknown) => String(key).startsWith(liar)
      let judged = 0
      for (const seed of SEEDS) {
        const report = yield* runScenario({
          seed,
          // 8 pieces of 32 blocks among 20 uploaders: the liar shares pieces with honest peers
          torrent: { size: 4 * MiB, pieceLength: 512 * KiB },
          seeds: 1,
          leechers: 19,
          corruptPeers: 1,
          verifyData: true,
          storage: "memory"
        })
        const where = `seed ${seed}`
        assert.isTrue(report.allComplete, where)
        assert.strictEqual(report.dataVerified, true, where)
        const lines = report.trace
        const bans = eventsOf(lines, "ban")
        for (const b of bans) assert.isTrue(isLiar(b.peer), `${where}: an honest peer was banned: ${JSON.stringify(b)}`)
        const failed = eventsOf(lines, "piece-failed")
        const verified = eventsOf(lines, "piece-verified")
        const hosts = new Set(failed.filter((f) => (f.from as Array<string>).some(isLiar)).map((f) => f.host))
        assert.isAbove(hosts.size, 0, `${where}: the liar sent nothing`)
        for (const host of hosts) {
          const first = failed.find((f) => f.host === host && (f.from as Array<string>).some(isLiar))
          if (first === undefined) continue
          const ban = bans.find((b) => b.host === host)
          assert.isDefined(ban, `${where}: ${String(host)} never banned the liar`)
          const lone = (first.from as Array<string>).every(isLiar)
          const resolved = verified.find((v) => v.host === host && v.index === first.index && v.t >= first.t)
          // the verdict on the first bad piece: at once when the liar alone sent it, else when it verifies
          const deadline = lone ? first.t : resolved?.t ?? Infinity
          assert.isAtMost(ban?.t ?? Infinity, deadline, `${where}: ${String(host)} banned the liar late: ${JSON.stringify({ first, ban, resolved })}`)
          judged++
        }
      }
      assert.isAbove(judged, SEEDS.length)
    }), 600_000)
})
