/** The vitest side of the fuzzer: one test per target at FUZZ_RUNS, one replaying its fixtures. */
import { it } from "@effect/vitest"
import { assert } from "vitest"
import { fixturesOf, formatReport, fuzz, type FuzzTarget } from "./fuzz.ts"

/** Inputs per decoder per CI run (issue 19 asks for at least 1e5). */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 100_000)

export const fuzzSuite = (targets: ReadonlyArray<FuzzTarget>) => {
  for (const target of targets) {
    it(`${target.name}: ${FUZZ_RUNS} inputs, no crash, no hang`, () => {
      const report = fuzz(target, { runs: FUZZ_RUNS, seed: 19, samples: 1000 })
      console.log(formatReport(report))
      assert.strictEqual(report.runs, FUZZ_RUNS, "every input ran")
      assert.deepStrictEqual(report.failures.map((f) => `${f.kind}: ${f.error}`), [])
    }, 600_000)
    const fixtures = fixturesOf(target.name)
    if (fixtures.length > 0) {
      it(`${target.name}: ${fixtures.length} regression fixtures replay cleanly`, () => {
        for (const { file, input } of fixtures) {
          assert.doesNotThrow(() => target.run(input), undefined, undefined, file)
        }
      })
    }
  }
}
