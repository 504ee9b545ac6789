/**
 * The summary of a known trace matches figures computed by hand; a killed run's torn last
 * line is skipped and said; filters by peer and by kind.
 */
import { assert, describe, it } from "@effect/vitest"
import { intervalTotal, readTrace, summarizeTrace } from "../src/trace/index.ts"

const A = `"peer":{"addr":"10.0.0.2:6881","client":"X 1.0","transport":"tcp","encryption":"none"}`
const B = `"peer":{"addr":"10.0.0.3:51413","transport":"utp"}`
const KNOWN = [
  `{"t":0,"ev":{"type":"start","version":1,"clock":"wall","pieces":3,"pieceLength":32768}}`,
  `{"t":0,${A},"dir":"out","ev":{"type":"connect"}}`,
  `{"t":10,${A},"dir":"in","ev":{"type":"Unchoke"}}`,
  `{"t":11,${A},"dir":"out","ev":{"type":"Request","index":0,"begin":0,"length":16384}}`,
  `{"t":12,${A},"dir":"out","ev":{"type":"Request","index":0,"begin":16384,"length":16384}}`,
  `{"t":15,${A},"dir":"in","ev":{"type":"Piece","index":0,"begin":0,"length":16384}}`,
  `{"t":20,${A},"dir":"in","ev":{"type":"Piece","index":0,"begin":16384,"length":16384}}`,
  `{"t":30,${A},"dir":"in","ev":{"type":"Choke"}}`,
  `{"t":40,${A},"dir":"out","ev":{"type":"Unchoke"}}`,
  `{"t":45,${A},"dir":"in","ev":{"type":"Request","index":1,"begin":0,"length":1000}}`,
  `{"t":46,${A},"dir":"out","ev":{"type":"Piece","index":1,"begin":0,"length":1000}}`,
  `{"t":50,${A},"ev":{"type":"close","reason":"Protocol","detail":"bad bitfield"}}`,
  `{"t":5,${B},"dir":"in","ev":{"type":"accept"}}`,
  `{"t":13,${B},"dir":"out","ev":{"type":"Request","index":2,"begin":0,"length":16384}}`,
  `{"t":33,${B},"dir":"in","ev":{"type":"Piece","index":2,"begin":0,"length":16384}}`,
  `{"t":60,${B},"ev":{"type":"close","reason":"Timeout","detail":"peer went silent"}}`,
  `{"t":70,"ev":{"type":"piece-verified","index":0,"from":["10.0.0.2:6881"]}}`,
  `{"t":71,"ev":{"type":"complete"}}`
].join("\n") + "\n"

describe("trace summary", () => {
  it("matches the hand-computed figures of a known trace", () => {
    const { lines, bad, torn } = readTrace(KNOWN)
    assert.deepStrictEqual(bad, [])
    assert.isFalse(torn)
    const s = summarizeTrace(lines)
    assert.strictEqual(s.lines, 18)
    // latencies: 15-11 = 4, 20-12 = 8 (peer A), 33-13 = 20 (peer B)
    assert.deepStrictEqual(s.latency, { count: 3, p50: 8, p90: 20, p99: 20, max: 20 })
    const a = s.peers.find((p) => p.addr === "10.0.0.2:6881")
    const b = s.peers.find((p) => p.addr === "10.0.0.3:51413")
    assert.deepStrictEqual(a?.received, { Unchoke: 1, Piece: 2, Choke: 1, Request: 1 })
    assert.deepStrictEqual(a?.sent, { Request: 2, Unchoke: 1, Piece: 1 })
    assert.strictEqual(a?.bytesIn, 32768)
    assert.strictEqual(a?.bytesOut, 1000)
    assert.strictEqual(a?.client, "X 1.0")
    assert.deepStrictEqual(a?.unchokedUs, [{ from: 10, to: 30 }])
    // we unchoked A at 40; the close at 50 ends it
    assert.deepStrictEqual(a?.unchokedByUs, [{ from: 40, to: 50 }])
    assert.strictEqual(intervalTotal(a?.unchokedUs ?? [], 50), 20)
    assert.strictEqual(b?.bytesIn, 16384)
    assert.strictEqual(b?.transport, "utp")
    assert.deepStrictEqual(s.closes.map((c) => [c.peer, c.reason, c.detail]), [
      ["10.0.0.2:6881", "Protocol", "bad bitfield"],
      ["10.0.0.3:51413", "Timeout", "peer went silent"]
    ])
    assert.deepStrictEqual(s.closeReasons, { Protocol: 1, Timeout: 1 })
    assert.strictEqual(s.piecesVerified, 1)
    assert.deepStrictEqual(s.completed, { "": 71 })
  })

  it("filters by peer (address, or host for every port) and by kind", () => {
    const { lines } = readTrace(KNOWN)
    const onlyA = summarizeTrace(lines, { peer: "10.0.0.2:6881" })
    assert.deepStrictEqual(onlyA.latency, { count: 2, p50: 4, p90: 8, p99: 8, max: 8 })
    assert.strictEqual(onlyA.peers.length, 1)
    assert.strictEqual(summarizeTrace(lines, { peer: "10.0.0.3" }).peers[0]?.addr, "10.0.0.3:51413")
    const closes = summarizeTrace(lines, { kinds: ["close"] })
    assert.strictEqual(closes.lines, 2)
    assert.deepStrictEqual(closes.peers.map((p) => p.received), [{}, {}])
    assert.strictEqual(summarizeTrace(lines, { kinds: ["Piece"] }).peers.reduce((n, p) => n + p.bytesIn, 0), 49152)
  })

  it("a killed run: the torn last line is skipped and said; a bad line in the middle is reported", () => {
    const cut = KNOWN.slice(0, KNOWN.length - 20)
    const r = readTrace(cut)
    assert.isTrue(r.torn)
    assert.strictEqual(r.lines.length, 17)
    assert.deepStrictEqual(r.bad, [])
    const broken = readTrace(`{"t":1,"ev":{"type":"complete"}}\nnot json\n{"t":2,"ev":{"type":"complete"}}\n`)
    assert.strictEqual(broken.lines.length, 2)
    assert.strictEqual(broken.bad[0]?.line, 2)
  })
})
