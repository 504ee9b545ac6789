/**
 * Fuzzing in CI (issue 19): every decoder meets FUZZ_RUNS inputs (default 1e5; `npm run fuzz`
 * runs 1e7) from structure-aware generators and mutations of valid samples, and every
 * regression fixture under test/fixtures/fuzz/ is replayed. Zero crashes (an exception or a
 * broken invariant) and zero hangs; the counts are printed. The MSE responder, whose
 * Diffie-Hellman dominates the cost, runs in its own file (fuzz-mse.test.ts) so the two
 * halves share the machine's cores.
 */
import { describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { assert } from "vitest"
import { fuzz, type FuzzTarget } from "./support/fuzz.ts"
import { FUZZ_TARGETS } from "./support/fuzz-all.ts"
import { fuzzSuite } from "./support/fuzz-suite.ts"

describe("fuzz: decoders", () => {
  fuzzSuite(FUZZ_TARGETS.filter((t) => t.name !== "mse-responder"))
})

describe("fuzz: the harness", () => {
  it("finds a planted defect through mutation and a planted slowdown as a hang", () => {
    const planted: FuzzTarget = {
      name: "planted",
      samples: fc.uint8Array({ minLength: 8, maxLength: 16 }).map((b) => b.map((x) => x & 0x7f)),
      run: (input) => {
        if (input[2] === 0xff) throw new RangeError("index out of range")
        if (input[5] === 0xfe) {
          // 40 ms of CPU, however loaded the machine is (the harness judges hangs by CPU time)
          const start = process.cpuUsage()
          while (((u) => u.user + u.system)(process.cpuUsage(start)) < 40_000) continue
        }
      }
    }
    const report = fuzz(planted, { runs: 20_000, seed: 1, samples: 50, hangMs: 20, maxFailures: 1000 })
    assert.isTrue(report.failures.some((f) => f.kind === "crash" && f.input[2] === 0xff && f.error.includes("RangeError")))
    assert.isTrue(report.failures.some((f) => f.kind === "hang" && f.input[5] === 0xfe))
  })
})
