/** KRPC codec (BEP 5): round trips, strict field checks, and garbage never throwing. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { encode } from "../src/bencode/index.ts"
import { Krpc } from "../src/dht/index.ts"

import { bad, id, ok, t } from "./support/krpc.ts"

describe("KRPC round trips", () => {
  const queries: ReadonlyArray<Krpc.QueryBody> = [
    { method: "ping" },
    { method: "find_node", target: id(7) },
    { method: "get_peers", infoHash: id(9) },
    { method: "announce_peer", infoHash: id(9), port: 6881, impliedPort: false, token: Uint8Array.of(1, 2, 3) },
    { method: "announce_peer", infoHash: id(9), port: 0, impliedPort: true, token: Uint8Array.of(4) }
  ]
  for (const body of queries) {
    it(`query ${body.method}${"impliedPort" in body && body.impliedPort ? " (implied_port)" : ""}`, () => {
      const m = ok(Krpc.encodeQuery(t, id(1), body))
      assert.deepStrictEqual(m, { _tag: "Query", t, id: id(1), body, readOnly: false })
    })
  }

  it("response with nodes, values and token", () => {
    const nodes = [
      { id: id(2), address: { host: "127.0.0.1", port: 6881 } },
      { id: id(3), address: { host: "10.0.0.255", port: 65535 } }
    ]
    const values = [{ host: "192.168.1.2", port: 1 }, { host: "1.2.3.4", port: 51413 }]
    const m = ok(Krpc.encodeResponse(t, id(1), { nodes, values, token: Uint8Array.of(9, 9) }))
    assert.deepStrictEqual(m, { _tag: "Response", t, id: id(1), nodes, nodes6: [], values, token: Uint8Array.of(9, 9) })
  })

  it("bare response (ping)", () => {
    assert.deepStrictEqual(ok(Krpc.encodeResponse(t, id(5))), {
      _tag: "Response",
      t,
      id: id(5),
      nodes: [],
      nodes6: [],
      values: [],
      token: undefined
    })
  })

  it("error", () => {
    assert.deepStrictEqual(ok(Krpc.encodeError(t, 203, "bad token")), { _tag: "Error", t, code: 203, message: "bad token" })
  })

  it("the BEP 5 example ping query decodes", () => {
    const m = ok(new TextEncoder().encode("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"))
    assert.strictEqual(m._tag, "Query")
    if (m._tag === "Query") assert.strictEqual(m.body.method, "ping")
  })

  it("an 18-byte (IPv6) value with port 0 is dropped, not an error", () => {
    const msg = encode({ t, y: "r", r: { id: id(1), values: [new Uint8Array(18), Uint8Array.of(1, 2, 3, 4, 0, 80)] } })
    const m = ok(msg)
    assert.deepStrictEqual(m._tag === "Response" ? m.values : [], [{ host: "1.2.3.4", port: 80 }])
  })
})

describe("KRPC rejects wrong types and lengths with typed errors", () => {
  const query = (a: Record<string, unknown>, q = "ping") => encode({ t, y: "q", q, a: a as never })

  it("node id of 19 bytes", () => {
    const e = bad(query({ id: new Uint8Array(19) }))
    assert.strictEqual(e.reason, "BadLength")
    assert.isTrue(e.isQuery)
    assert.deepStrictEqual(e.transactionId, t)
  })
  it("target that is an integer", () => {
    assert.strictEqual(bad(query({ id: id(1), target: 5 }, "find_node")).reason, "WrongType")
  })
  it("announce without port and without implied_port", () => {
    assert.strictEqual(bad(query({ id: id(1), info_hash: id(2), token: "x" }, "announce_peer")).reason, "MissingField")
  })
  it("announce with port 70000", () => {
    assert.strictEqual(bad(query({ id: id(1), info_hash: id(2), token: "x", port: 70000 }, "announce_peer")).reason, "BadValue")
  })
  it("unknown method keeps the transaction id (for a 204 answer)", () => {
    const e = bad(query({ id: id(1) }, "vote"))
    assert.strictEqual(e.reason, "UnknownMethod")
    assert.deepStrictEqual(e.transactionId, t)
  })
  it("nodes not a multiple of 26 bytes", () => {
    assert.strictEqual(bad(encode({ t, y: "r", r: { id: id(1), nodes: new Uint8Array(27) } })).reason, "BadLength")
  })
  it("a 5-byte value", () => {
    assert.strictEqual(bad(encode({ t, y: "r", r: { id: id(1), values: [new Uint8Array(5)] } })).reason, "BadLength")
  })
  it("values that is a string", () => {
    assert.strictEqual(bad(encode({ t, y: "r", r: { id: id(1), values: "abcdef" } })).reason, "WrongType")
  })
  it("missing t, empty t, overlong t", () => {
    assert.strictEqual(bad(encode({ y: "r", r: { id: id(1) } })).reason, "MissingField")
    assert.strictEqual(bad(encode({ t: "", y: "r", r: { id: id(1) } })).reason, "BadLength")
    assert.strictEqual(bad(encode({ t: new Uint8Array(33), y: "r", r: { id: id(1) } })).reason, "BadLength")
  })
  it("unknown y, non-dict, bencode garbage, oversized", () => {
    assert.strictEqual(bad(encode({ t, y: "z" })).reason, "UnknownType")
    assert.strictEqual(bad(encode([1, 2])).reason, "NotADict")
    assert.strictEqual(bad(Uint8Array.of(0x64, 0x31)).reason, "Bencode")
    assert.strictEqual(bad(new Uint8Array(Krpc.MAX_MESSAGE_BYTES + 1)).reason, "Oversized")
  })
  it("a list with more elements than the cap fails before materialising them", () => {
    const many = encode({ t, y: "r", r: { id: id(1), values: Array.from({ length: 1100 }, () => new Uint8Array(0)) } })
    assert.strictEqual(bad(many).reason, "Bencode")
  })
})

describe("KRPC garbage (properties)", () => {
  it("random bytes never throw", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = Krpc.decodeMessage(bytes)
      assert.isTrue(Result.isFailure(r) || Result.isSuccess(r))
    }), { numRuns: 2000 })
  })

  const field = fc.oneof(
    fc.integer(),
    fc.uint8Array({ maxLength: 60 }),
    fc.uint8Array({ minLength: 20, maxLength: 20 }),
    fc.constantFrom("ping", "find_node", "get_peers", "announce_peer", "q", "r", "e"),
    fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 4 }),
    fc.array(fc.constantFrom("n4", "n6", "n5"), { maxLength: 3 })
  )
  const arbDict = fc.dictionary(
    fc.constantFrom("id", "target", "info_hash", "port", "token", "implied_port", "nodes", "nodes6", "values", "want"),
    field,
    { noNullPrototype: true }
  )
  it("structured nonsense never throws, and successes re-encode to the same message", () => {
    fc.assert(fc.property(
      fc.record({
        t: fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.integer()),
        y: fc.constantFrom("q", "r", "e", "x"),
        q: fc.constantFrom("ping", "find_node", "get_peers", "announce_peer", "nope"),
        a: arbDict,
        r: arbDict,
        e: fc.array(field, { maxLength: 3 })
      }),
      (msg) => {
        const r = Krpc.decodeMessage(encode(msg))
        if (Result.isSuccess(r) && r.success._tag === "Query") {
          const again = Krpc.decodeMessage(Krpc.encodeQuery(r.success.t, r.success.id, r.success.body))
          assert.deepStrictEqual(again, Result.succeed({ ...r.success, readOnly: false }))
        }
      }
    ), { numRuns: 2000 })
  })
})
