/**
 * The trace schema: every line the recorder writes decodes with `TraceLine`, with nothing
 * the schema does not name; block payloads appear as lengths only.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { decodeTraceLine, handshakeEvent, makeTorrentTrace, memorySink, WIRE_MESSAGE_TYPES } from "../src/trace/index.ts"
import { extendedHandshakeMessage, type Message } from "../src/wire/index.ts"

const block = new Uint8Array(16384).fill(7)
const messages: ReadonlyArray<Message> = [
  { _tag: "KeepAlive" },
  { _tag: "Choke" },
  { _tag: "Unchoke" },
  { _tag: "Interested" },
  { _tag: "NotInterested" },
  { _tag: "Have", index: 3 },
  { _tag: "Bitfield", bits: Uint8Array.of(0b1011_0000, 0x01) },
  { _tag: "Request", index: 1, begin: 16384, length: 16384 },
  { _tag: "Piece", index: 1, begin: 16384, block },
  { _tag: "Cancel", index: 1, begin: 0, length: 16384 },
  { _tag: "Port", port: 6881 },
  { _tag: "Suggest", index: 2 },
  { _tag: "HaveAll" },
  { _tag: "HaveNone" },
  { _tag: "Reject", index: 1, begin: 0, length: 16384 },
  { _tag: "AllowedFast", index: 9 },
  { _tag: "HashRequest", piecesRoot: new Uint8Array(32).fill(1), baseLayer: 2, index: 0, length: 4, proofLayers: 3 },
  { _tag: "Hashes", piecesRoot: new Uint8Array(32).fill(1), baseLayer: 2, index: 0, length: 2, proofLayers: 1, hashes: new Uint8Array(64) },
  { _tag: "HashReject", piecesRoot: new Uint8Array(32).fill(1), baseLayer: 2, index: 0, length: 4, proofLayers: 3 },
  extendedHandshakeMessage({ m: { ut_metadata: 3, ut_pex: 1 }, v: "test 1.0", reqq: 250, p: 6881 }),
  { _tag: "Extended", id: 1, payload: Uint8Array.of(100, 101) }
]

const decodeAll = (lines: ReadonlyArray<string>) =>
  lines.map((l) => {
    const r = decodeTraceLine(l)
    if (Result.isFailure(r)) assert.fail(`${l}: ${r.failure.message}`)
    return r.success
  })

describe("trace schema", () => {
  it("every wire message, in both directions, makes a line that decodes; payloads are lengths", () => {
    const sink = memorySink()
    let t = 0
    const trace = makeTorrentTrace({ sink, host: "leecher-0" }, () => t++)
    const peer = trace.peer("10.0.0.2:6881", { transport: "tcp" })
    peer.event("out", { type: "connect" })
    peer.event("in", handshakeEvent(new Uint8Array([0, 0, 0, 0, 0, 0x10, 0, 0x05]), new Uint8Array(20).fill(65)))
    peer.update({ client: "Test 1.0", encryption: "none" })
    for (const m of messages) {
      peer.wire?.message("in", m, m._tag === "Extended" && m.id === 1 ? "ut_pex" : undefined)
      peer.wire?.message("out", m)
    }
    peer.wire?.pieceOut(4, 0, 1000)
    peer.event(undefined, { type: "close", reason: "Protocol", detail: "bad \"bitfield\"" })
    trace.event(undefined, { type: "piece-verified", index: 1, from: ["10.0.0.2:6881"] })
    const lines = decodeAll(sink.lines)
    assert.strictEqual(lines.length, 3 + 2 * messages.length + 2)
    assert.deepStrictEqual(
      new Set(lines.map((l) => l.ev.type).filter((type) => (WIRE_MESSAGE_TYPES as ReadonlyArray<string>).includes(type))),
      new Set(WIRE_MESSAGE_TYPES)
    )
    const piece = lines.find((l) => l.ev.type === "Piece")
    assert.deepStrictEqual(piece?.ev, { type: "Piece", index: 1, begin: 16384, length: 16384 })
    assert.deepStrictEqual(piece?.peer, { addr: "10.0.0.2:6881", transport: "tcp", client: "Test 1.0", encryption: "none" })
    assert.strictEqual(piece?.host, "leecher-0")
    const bitfield = lines.find((l) => l.ev.type === "Bitfield")
    assert.deepStrictEqual(bitfield?.ev, { type: "Bitfield", pieces: 4, length: 2 })
    const ext = lines.filter((l) => l.ev.type === "Extended").map((l) => l.ev)
    assert.deepStrictEqual(ext[0], { type: "Extended", id: 0, name: "handshake", length: ext[0]?.type === "Extended" ? ext[0].length : -1, m: { ut_metadata: 3, ut_pex: 1 }, v: "test 1.0", reqq: 250, p: 6881 })
    assert.deepStrictEqual(ext[2], { type: "Extended", id: 1, name: "ut_pex", length: 2 })
    const hs = lines.find((l) => l.ev.type === "handshake")?.ev
    assert.deepStrictEqual(hs, { type: "handshake", peerId: "41".repeat(20), reserved: "0000000000100005", fast: true, extended: true, dht: true })
    assert.isFalse(sink.lines.some((l) => l.length > 400), "no payload in a line")
  })

  it("a key the schema does not name, a wrong type, or a torn line is an error", () => {
    assert.isTrue(Result.isFailure(decodeTraceLine(`{"t":1,"ev":{"type":"complete","extra":1}}`)))
    assert.isTrue(Result.isFailure(decodeTraceLine(`{"t":1,"ev":{"type":"Have","index":-1}}`)))
    assert.isTrue(Result.isFailure(decodeTraceLine(`{"t":1,"ev":{"type":"close","reason":"Bored","detail":""}}`)))
    assert.isTrue(Result.isFailure(decodeTraceLine(`{"t":1,"ev":{"type":"Have","ind`)))
    assert.isTrue(Result.isSuccess(decodeTraceLine(`{"t":1,"ev":{"type":"close","reason":"Banned","detail":"x"}}`)))
  })

  it("messages off: sessions get no wire hook", () => {
    const trace = makeTorrentTrace({ sink: memorySink(), messages: false }, () => 0)
    assert.isNull(trace.peer("1.2.3.4:5").wire)
  })
})
