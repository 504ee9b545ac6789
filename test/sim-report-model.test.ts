/**
 * The report's model from a run's events (report-model.ts), on a hand-written trace: the
 * completion CDF steps per leecher, throughput integrates to the verified bytes, piece
 * availability counts seeds and drops when a host leaves; and the page holds every plot.
 */
import { assert, describe, it } from "@effect/vitest"
import { buildReportModel, renderReportHtml, type ReportInput } from "../src/sim/index.ts"
import { ticks } from "../src/sim/report-html.ts"

const input: ReportInput = {
  title: "two leechers <and> a seed",
  size: 3 * 100 - 40, // three pieces, the last 60 bytes
  pieceLength: 100,
  hosts: [
    { name: "seed-0", role: "seed", uploaded: 500, downloaded: 0 },
    { name: "leecher-0", role: "leecher", uploaded: 100, downloaded: 260 },
    { name: "leecher-1", role: "leecher" }
  ],
  events: [
    { t: 0, kind: "listen" },
    { t: 100, kind: "piece", host: "leecher-0", piece: 0 },
    { t: 150, kind: "piece", host: "leecher-0", piece: 2 },
    { t: 150, kind: "hash-failed", host: "leecher-1", piece: 1, peers: "10.3.0.1:6881" },
    { t: 160, kind: "ban", host: "leecher-1", peer: "10.3.0.1:6881" },
    { t: 200, kind: "piece", host: "leecher-0", piece: 1 },
    { t: 200, kind: "complete", host: "leecher-0" },
    { t: 300, kind: "leave", host: "seed-0" },
    { t: 400, kind: "piece", host: "leecher-1", piece: 0 },
    { t: 400, kind: "piece", host: "leecher-1", piece: 0 }
  ],
  endMs: 1000
}

describe("report model", () => {
  const model = buildReportModel(input)

  it("completion CDF: a step per leecher that completed, over all leechers", () => {
    assert.deepStrictEqual(model.completion, [[0, 0], [200, 0.5], [1000, 0.5]])
    assert.strictEqual(model.leechers, 2)
  })

  it("throughput integrates to the bytes verified (duplicates not counted)", () => {
    const bucketS = (model.throughput[1]?.[0] ?? 0) / 1000 - (model.throughput[0]?.[0] ?? 0) / 1000
    const total = model.throughput.reduce((n, [, mbs]) => n + mbs * 1e6 * bucketS, 0)
    assert.closeTo(total, 260 + 100, 1e-6)
  })

  it("availability: the seed's copy counts until it leaves", () => {
    const at = (series: ReadonlyArray<readonly [number, number]>, t: number) => series.findLast(([x]) => x <= t)?.[1]
    assert.strictEqual(at(model.availabilityMin, 0), 1)
    assert.strictEqual(at(model.availabilityMin, 250), 2)
    assert.strictEqual(at(model.availabilityMin, 350), 1, "the seed left")
    assert.closeTo(at(model.availabilityMean, 450) ?? 0, 4 / 3, 1e-9)
  })

  it("incidents and per-host totals", () => {
    assert.deepStrictEqual(model.incidents.map((i) => [i.t, i.kind, i.host, i.peer]), [
      [150, "hash-failed", "leecher-1", "10.3.0.1:6881"],
      [160, "ban", "leecher-1", "10.3.0.1:6881"]
    ])
    assert.deepStrictEqual(model.upDown.map((p) => p.name), ["seed-0", "leecher-0"], "only hosts with both totals")
  })

  it("the page: every plot as inline SVG, text escaped, nothing fetched", () => {
    const html = renderReportHtml(model)
    for (const id of ["completion", "throughput", "availability", "updown", "incidents"]) {
      assert.match(html, new RegExp(`<section class="chart" id="${id}"><h2>[^<]+</h2><svg `))
    }
    assert.include(html, "two leechers &#60;and&#62; a seed")
    assert.notMatch(html, /<script|https?:\/\/|src=/)
  })

  it("ticks are round steps covering the range", () => {
    assert.deepStrictEqual(ticks(1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1])
    assert.deepStrictEqual(ticks(37, 4), [0, 10, 20, 30])
    assert.deepStrictEqual(ticks(0), [0])
  })
})
