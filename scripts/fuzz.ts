/**
 * `npm run fuzz`: every decoder's fuzz target at volume (default 1e7 inputs each).
 * `FUZZ_RUNS=N` or `--runs N` sets the volume, `--target NAME` (repeatable) picks targets,
 * `--seed N` changes the inputs. Failures are written to test/fixtures/fuzz/ as
 * regression fixtures; the exit code is 1 when any target crashed or hung.
 */
import { parseArgs } from "node:util"
import { formatReport, fuzz } from "../test/support/fuzz.ts"
import { FUZZ_TARGETS } from "../test/support/fuzz-all.ts"

const { values } = parseArgs({
  options: { runs: { type: "string" }, target: { type: "string", multiple: true }, seed: { type: "string" } }
})
const runs = Number(values.runs ?? process.env.FUZZ_RUNS ?? 1e7)
const seed = Number(values.seed ?? process.env.FUZZ_SEED ?? Date.now() % 1e9)
const picked = values.target === undefined ? FUZZ_TARGETS : FUZZ_TARGETS.filter((t) => values.target?.includes(t.name))
if (!Number.isFinite(runs) || runs < 1 || picked.length === 0) {
  console.error(`fuzz: nothing to run (runs ${values.runs ?? process.env.FUZZ_RUNS}, targets ${FUZZ_TARGETS.map((t) => t.name).join(", ")})`)
  process.exit(2)
}
console.log(`fuzz: ${runs} inputs per target, seed ${seed}`)
let failed = 0
for (const target of picked) {
  const report = fuzz(target, { runs, seed, samples: 2000, saveFailures: true, maxFailures: 20 })
  console.log(formatReport(report))
  failed += report.failures.length
}
process.exit(failed > 0 ? 1 : 0)
