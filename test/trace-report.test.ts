/**
 * The HTML report's events come from the shared trace format: a simulated run's trace and a
 * real run's (no host: "local") give the same kinds of events.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { reportInputOf, runEventsOf, runScenario } from "../src/sim/index.ts"
import { readTrace } from "../src/trace/index.ts"

describe("report events from traces", () => {
  it.effect("a simulated run: every leecher's completion and verified pieces reach the report", () =>
    Effect.gen(function*() {
      const report = yield* runScenario({ seed: 2, torrent: { size: 512 * 1024, pieceLength: 64 * 1024 }, leechers: 3 })
      const input = reportInputOf(report, { size: 512 * 1024, pieceLength: 64 * 1024 }, "t")
      const completes = input.events.filter((e) => e.kind === "complete" && e.host?.startsWith("leecher-") === true)
      assert.strictEqual(completes.length, 3)
      assert.strictEqual(input.events.filter((e) => e.kind === "piece" && e.host === "leecher-0").length, 8)
    }), 60_000)

  it("a real run's lines are the host \"local\"", () => {
    const { lines } = readTrace([
      `{"t":5,"ev":{"type":"piece-verified","index":2,"from":["1.2.3.4:5"]}}`,
      `{"t":6,"peer":{"addr":"1.2.3.4:5"},"ev":{"type":"ban","detail":"x"}}`,
      `{"t":7,"ev":{"type":"complete"}}`
    ].join("\n") + "\n")
    assert.deepStrictEqual(runEventsOf(lines), [
      { t: 5, kind: "piece", host: "local", piece: 2 },
      { t: 6, kind: "ban", host: "local", peer: "1.2.3.4:5" },
      { t: 7, kind: "complete", host: "local" }
    ])
  })
})
