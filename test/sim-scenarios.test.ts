/**
 * Every named scenario (`simulate --scenario <name>`, sim/named-scenarios.ts) runs on a
 * small swarm and its documented expected outcome holds; and the check can fail: a run that
 * is not what a scenario expects is reported as such.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { namedScenarios, runScenario, type ScenarioBase, type ScenarioName, scenarioNames } from "../src/sim/index.ts"

const KiB = 1024
const MiB = 1024 * KiB

const bases: Record<ScenarioName, ScenarioBase> = {
  "flash-crowd": { seed: 11, leechers: 20, torrent: { size: 4 * MiB, pieceLength: 128 * KiB }, tracePieces: false },
  "seed-leaves": { seed: 12, leechers: 20, torrent: { size: 8 * MiB, pieceLength: 128 * KiB }, tracePieces: false },
  "corrupt-10": { seed: 13, leechers: 20, torrent: { size: 4 * MiB, pieceLength: 128 * KiB }, tracePieces: false },
  "partition-heal": { seed: 14, leechers: 16, torrent: { size: 8 * MiB, pieceLength: 256 * KiB }, tracePieces: false },
  churn: { seed: 15, leechers: 15, torrent: { size: 16 * MiB, pieceLength: 256 * KiB }, tracePieces: false },
  mixed: { seed: 16, leechers: 12, torrent: { size: 2 * MiB, pieceLength: 64 * KiB }, tracePieces: false }
}

describe("named scenarios", () => {
  it("every scenario has a description, an expected outcome and a test base", () => {
    assert.deepStrictEqual([...scenarioNames].sort(), Object.keys(bases).sort())
    for (const name of scenarioNames) {
      assert.isAbove(namedScenarios[name].description.length, 20)
      assert.isAbove(namedScenarios[name].expected.length, 20)
    }
  })

  for (const name of scenarioNames) {
    it.effect(`${name}: ${namedScenarios[name].expected}`, () =>
      Effect.gen(function*() {
        const scenario = namedScenarios[name]
        const spec = scenario.spec(bases[name])
        const report = yield* runScenario(spec)
        assert.deepStrictEqual(scenario.check(report, spec), [])
      }), 300_000)
  }

  it.effect("a check fails when the run is not what the scenario expects", () =>
    Effect.gen(function*() {
      // corrupt-10's check on a run with no corrupt peer at all: nothing failed a hash check
      const spec = bases["flash-crowd"]
      const report = yield* runScenario({ ...spec, leechers: 4, torrent: { size: 1 * MiB, pieceLength: 64 * KiB } })
      const failed = namedScenarios["corrupt-10"].check(report, { ...spec, corruptPeers: 1 })
      assert.isAbove(failed.length, 0)
      assert.match(failed.join(" "), /hash failure/)
    }), 120_000)
})
