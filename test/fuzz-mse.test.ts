/**
 * Fuzzing in CI, the MSE half (see fuzz-decoders.test.ts): a responder fed random and
 * mutated openings from a real initiator always ends (done or failed) within the most
 * bytes a handshake may take, and never throws.
 */
import { describe } from "@effect/vitest"
import { FUZZ_TARGETS } from "./support/fuzz-all.ts"
import { fuzzSuite } from "./support/fuzz-suite.ts"

describe("fuzz: MSE responder", () => {
  fuzzSuite(FUZZ_TARGETS.filter((t) => t.name === "mse-responder"))
})
