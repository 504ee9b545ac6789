/**
 * The HTML report's events come from the shared trace format: a simulated run's trace and a
 * real run's (no host: "local") give the same kinds of events.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { reportInputOf, reportInputOfTrace, runEventsOf, runScenario } from "../src/sim/index.ts"
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

  it("a real run's trace as the report's input: times from its first line, size from start, bytes per peer from Piece lines", () => {
    const { lines } = readTrace([
      `{"t":1000,"ev":{"type":"start","version":1,"clock":"wall","name":"x","pieces":2,"pieceLength":32768,"size":40000}}`,
      `{"t":1001,"peer":{"addr":"1.2.3.4:5"},"dir":"in","ev":{"type":"Piece","index":0,"begin":0,"length":16384}}`,
      `{"t":1002,"peer":{"addr":"1.2.3.4:5"},"dir":"in","ev":{"type":"Piece","index":0,"begin":16384,"length":16384}}`,
      `{"t":1003,"ev":{"type":"piece-verified","index":0,"from":["1.2.3.4:5"]}}`,
      `{"t":1004,"peer":{"addr":"6.7.8.9:1"},"dir":"out","ev":{"type":"Piece","index":0,"begin":0,"length":16384}}`,
      `{"t":1010,"ev":{"type":"complete"}}`
    ].join("\n") + "\n")
    const input = reportInputOfTrace(lines, "t")
    if (typeof input === "string") return assert.fail(input)
    assert.strictEqual(input.size, 40000)
    assert.strictEqual(input.pieceLength, 32768)
    assert.strictEqual(input.endMs, 10)
    assert.deepStrictEqual(input.events, [{ t: 3, kind: "piece", host: "local", piece: 0 }, { t: 10, kind: "complete", host: "local" }])
    assert.deepStrictEqual(input.hosts, [
      { name: "local", role: "leecher", uploaded: 16384, downloaded: 32768 },
      { name: "1.2.3.4:5", role: "peer", uploaded: 32768, downloaded: 0 },
      { name: "6.7.8.9:1", role: "peer", uploaded: 0, downloaded: 16384 }
    ])
    assert.isString(reportInputOfTrace(lines.slice(1), "t"), "no start line: a reason, not a report")
  })
})
