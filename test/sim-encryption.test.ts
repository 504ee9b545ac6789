/**
 * MSE/PE in a simulated swarm: a seed and some leechers that require encryption, some
 * that prefer it, some that refuse it. Everyone completes with the exact content; no
 * payload ever flows between a peer that requires encryption and one that refuses it; and
 * the same seed replays the same trace (MSE's keys and pads come from the seeded Random).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ClientConfig } from "../src/client/index.ts"
import { runScenario, type ScenarioSpec } from "../src/sim/index.ts"

const KiB = 1024
const MiB = 1024 * KiB

const policyOf = (name: string): NonNullable<ClientConfig["encryption"]> => {
  if (name === "seed-0") return "require"
  const i = Number(name.split("-")[1])
  return i < 3 ? "require" : i < 7 ? "prefer" : "disable"
}

const spec = (seed: string): ScenarioSpec => ({
  seed,
  torrent: { size: 4 * MiB, pieceLength: 64 * KiB },
  seeds: 1,
  leechers: 10,
  storage: "memory",
  verifyData: true,
  tracePieces: false,
  clients: Object.fromEntries(["seed-0", ...Array.from({ length: 10 }, (_, i) => `leecher-${i}`)].map((n) => [n, { encryption: policyOf(n) }]))
})

describe("simulated swarm with mixed encryption policies", () => {
  it.effect("peers that require, prefer and refuse encryption all complete, deterministically", () =>
    Effect.gen(function*() {
      const a = yield* runScenario(spec("mse"))
      assert.isTrue(a.allComplete, JSON.stringify(a.peers.map((p) => [p.name, p.completedAtMs])))
      assert.isTrue(a.dataVerified === true, "every leecher holds the exact content")
      const between = (x: string, y: string) => a.traffic.filter((t) => (t.from === x && t.to === y) || (t.from === y && t.to === x)).reduce((n, t) => n + t.bytes, 0)
      const names = a.peers.map((p) => p.name)
      let payloadPairs = 0
      for (const x of names) {
        for (const y of names) {
          if (policyOf(x) === "require" && policyOf(y) === "disable") {
            // at most refused openings: a 68-byte handshake, or a public key and its pad
            assert.isBelow(between(x, y), 16 * KiB, `${x} (requires) and ${y} (refuses) exchanged payload`)
          }
          if (x < y && policyOf(x) === "require" && policyOf(y) === "prefer" && between(x, y) > 64 * KiB) payloadPairs++
        }
      }
      assert.isAbove(payloadPairs, 0, "peers that require encryption traded with those that prefer it")
      // the "disable" leechers got everything from the "prefer" ones
      for (const p of a.peers.filter((p) => policyOf(p.name) === "disable")) assert.isAtLeast(p.bytesFromPeers, 4 * MiB)
      const b = yield* runScenario(spec("mse"))
      assert.strictEqual(a.trace.join("\n"), b.trace.join("\n"))
      assert.deepStrictEqual(a.traffic, b.traffic)
    }), 300_000)
})
