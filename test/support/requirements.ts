/**
 * Tests that need something a machine may lack: a reference client, or the right to mount
 * a tmpfs. Locally such a test is skipped, with a message saying what to install. In CI
 * (the `CI` environment variable set, as .ci/run does and as CI services do) it is not
 * skipped: it runs and fails with that message, so a missing tool can never turn CI green.
 */
import { it, type Vitest } from "@effect/vitest"
import { Effect, type Scope } from "effect"

export interface Requirement {
  readonly available: boolean
  /** What is missing, e.g. "aria2c". */
  readonly what: string
  /** How to get it, e.g. "apt-get install -y aria2". */
  readonly howTo: string
}

/** True when the `CI` environment variable says so (any value but empty, "0" or "false"). */
export const inCI = ((value: string | undefined) => value !== undefined && value !== "" && value !== "0" && value.toLowerCase() !== "false")(
  process.env["CI"]
)

const describeMissing = (missing: ReadonlyArray<Requirement>) => missing.map((r) => `${r.what} (${r.howTo})`).join(", ")

/** A requirement; when it is missing outside CI, says once which tests will be skipped and why. */
export const requirement = (available: boolean, what: string, howTo: string): Requirement => {
  if (!available && !inCI) console.warn(`${what} is not available: the tests that need it are skipped locally (${howTo}); in CI they fail`)
  return { available, what, howTo }
}

/**
 * `it.live` for a test that needs every one of `requirements`: the test itself when all are
 * there; otherwise skipped locally, and in CI a failing test naming what is missing.
 */
export const liveWith = (...requirements: ReadonlyArray<Requirement>): Vitest.Test<Scope.Scope> => {
  const missing = requirements.filter((r) => !r.available)
  if (missing.length === 0) return it.live
  if (!inCI) return it.live.skip
  return (name, _self, timeout) =>
    it.live(name, () => Effect.die(new Error(`CI must run this test, but it needs ${describeMissing(missing)}`)), timeout)
}
