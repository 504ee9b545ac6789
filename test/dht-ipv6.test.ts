/**
 * BEP 32 (the IPv6 DHT), the pure parts: the 38-byte `nodes6` and 18-byte `values` codecs,
 * `want`, the answers a node gives per family, a routing table per family, and the state file
 * with `nodes6` (old files without it still load). Properties with fast-check.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { encode } from "../src/bencode/index.ts"
import { decodeNodes, encodeNodes, NODE6_LENGTH, type NodeInfo } from "../src/dht/compact.ts"
import { Krpc, RoutingTable as T } from "../src/dht/index.ts"
import { idKey } from "../src/dht/id.ts"
import { makePeerStore, peersFor, storePeer } from "../src/dht/peer-store.ts"
import { answerQuery, type AnswerContext, makeCounters } from "../src/dht/server.ts"
import { decodeState, encodeState } from "../src/dht/state.ts"
import * as Token from "../src/dht/token.ts"
import { parseAddress } from "../src/net/index.ts"

import { bad, id, ok, t } from "./support/krpc.ts"

/** An IPv6 literal in effect/net's normal form (compressed, lower case), from 16 random bytes. */
const arbIpv6 = fc.uint8Array({ minLength: 16, maxLength: 16 })
  .map((b) => {
    const groups: Array<string> = []
    for (let i = 0; i < 16; i += 2) groups.push((((b[i] ?? 0) << 8) | (b[i + 1] ?? 0)).toString(16))
    return parseAddress(`[${groups.join(":")}]:1`)?.host ?? "::1"
  })
  // IPv4-mapped addresses are IPv4 peers (address.ts): they have no 18-byte form
  .filter((host) => !host.startsWith("::ffff:"))
const arbPort = fc.integer({ min: 1, max: 65535 })
const arbNode6 = fc.record({
  id: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  address: fc.record({ host: arbIpv6, port: arbPort })
})
const arbIpv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))

describe("BEP 32 compact codecs (properties)", () => {
  it("38-byte nodes6 entries round trip", () => {
    fc.assert(fc.property(fc.array(arbNode6, { maxLength: 20 }), (nodes) => {
      const bytes = encodeNodes(nodes, 6)
      assert.strictEqual(bytes.length, nodes.length * NODE6_LENGTH)
      assert.deepStrictEqual(decodeNodes(bytes, 6), nodes)
    }))
  })

  it("a node list holds one family: IPv4 nodes are left out of nodes6 and IPv6 ones out of nodes", () => {
    fc.assert(fc.property(fc.array(arbNode6, { maxLength: 5 }), arbIpv4, (v6, v4host) => {
      const v4: NodeInfo = { id: id(1), address: { host: v4host, port: 6881 } }
      assert.deepStrictEqual(decodeNodes(encodeNodes([v4, ...v6], 6), 6), v6)
      assert.deepStrictEqual(decodeNodes(encodeNodes([...v6, v4], 4), 4), [v4])
    }))
  })

  it("responses with nodes, nodes6 and a hybrid values list round trip", () => {
    fc.assert(fc.property(
      fc.array(arbNode6, { maxLength: 8 }),
      fc.array(fc.record({ host: arbIpv6, port: arbPort }), { maxLength: 20 }),
      fc.array(fc.record({ host: arbIpv4, port: arbPort }), { maxLength: 20 }),
      (nodes6, values6, values4) => {
        const values = [...values4, ...values6]
        const m = ok(Krpc.encodeResponse(t, id(1), { nodes6, values, token: Uint8Array.of(1) }))
        assert.deepStrictEqual(m, { _tag: "Response", t, id: id(1), nodes: [], nodes6, values, token: Uint8Array.of(1) })
      }
    ))
  })

  it("nodes6 of any length never throws: a multiple of 38 decodes, anything else is BadLength", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (raw) => {
      const r = Krpc.decodeMessage(encode({ t, y: "r", r: { id: id(1), nodes6: raw } }))
      if (raw.length % NODE6_LENGTH === 0) assert.isTrue(Result.isSuccess(r))
      else assert.isTrue(Result.isFailure(r) && r.failure.reason === "BadLength")
    }))
  })

  it("values entries of any length never throw: 6 and 18 bytes decode, others are BadLength", () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 10 }), (entries) => {
      const r = Krpc.decodeMessage(encode({ t, y: "r", r: { id: id(1), values: entries } }))
      if (entries.every((e) => e.length === 6 || e.length === 18)) assert.isTrue(Result.isSuccess(r))
      else assert.isTrue(Result.isFailure(r) && r.failure.reason === "BadLength")
    }))
  })
})

describe("BEP 32 messages", () => {
  it("want round trips on find_node and get_peers; unknown flags are ignored", () => {
    for (const body of [
      { method: "find_node", target: id(7), want: ["n4", "n6"] },
      { method: "get_peers", infoHash: id(9), want: ["n6"] }
    ] satisfies ReadonlyArray<Krpc.QueryBody>) {
      assert.deepStrictEqual(ok(Krpc.encodeQuery(t, id(1), body)), { _tag: "Query", t, id: id(1), body, readOnly: false })
    }
    const m = ok(encode({ t, y: "q", q: "find_node", a: { id: id(1), target: id(2), want: ["n6", "x9", "n6", "dummy"] } }))
    assert.deepStrictEqual(m._tag === "Query" ? m.body : undefined, { method: "find_node", target: id(2), want: ["n6"] })
  })

  it("malformed want and nodes6 are typed errors", () => {
    const wantString = bad(encode({ t, y: "q", q: "get_peers", a: { id: id(1), info_hash: id(2), want: "n6" } }))
    assert.strictEqual(wantString.reason, "WrongType")
    assert.isTrue(wantString.isQuery, "a 203 answer can name the transaction")
    assert.strictEqual(bad(encode({ t, y: "q", q: "get_peers", a: { id: id(1), info_hash: id(2), want: [6] } })).reason, "WrongType")
    assert.strictEqual(bad(encode({ t, y: "r", r: { id: id(1), nodes6: 38 } })).reason, "WrongType")
    assert.strictEqual(bad(encode({ t, y: "r", r: { id: id(1), nodes6: new Uint8Array(26) } })).reason, "BadLength")
  })

  it("an 18-byte value is an IPv6 peer; a hybrid list parses (BEP 32)", () => {
    const v6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1)
    const m = ok(encode({ t, y: "r", r: { id: id(1), values: [v6, Uint8Array.of(1, 2, 3, 4, 0, 80)] } }))
    assert.deepStrictEqual(m._tag === "Response" ? m.values : [], [{ host: "2001:db8::1", port: 6881 }, { host: "1.2.3.4", port: 80 }])
  })
})

const v4Nodes: ReadonlyArray<NodeInfo> = [{ id: id(2), address: { host: "10.0.0.2", port: 6881 } }]
const v6Node: NodeInfo = { id: id(3), address: { host: "2001:db8::3", port: 6881 } }
const v6Nodes: ReadonlyArray<NodeInfo> = [v6Node]
const infoHash = id(9)

const context = (): AnswerContext => ({
  ownId: id(1),
  store: makePeerStore(),
  secrets: Token.initialSecrets(new Uint8Array(20).fill(7), 0),
  closest: (_target, family) => family === 4 ? v4Nodes : v6Nodes,
  counters: makeCounters()
})

const answer = (ctx: AnswerContext, body: Krpc.QueryBody, from: { host: string; port: number }) => {
  const q = ok(Krpc.encodeQuery(t, id(5), body))
  if (q._tag !== "Query") throw new Error("not a query")
  const r = ok(answerQuery(ctx, q, from, 1000))
  if (r._tag !== "Response") throw new Error("not a response")
  return r
}

describe("BEP 32 answers (server core)", () => {
  const over4 = { host: "10.0.0.9", port: 7000 }
  const over6 = { host: "2001:db8::9", port: 7000 }

  it("without want: nodes over IPv4, nodes6 over IPv6; with want: what was asked", () => {
    const ctx = context()
    const a4 = answer(ctx, { method: "find_node", target: id(4) }, over4)
    assert.deepStrictEqual([a4.nodes, a4.nodes6], [v4Nodes, []])
    const a6 = answer(ctx, { method: "find_node", target: id(4) }, over6)
    assert.deepStrictEqual([a6.nodes, a6.nodes6], [[], v6Nodes])
    const both = answer(ctx, { method: "get_peers", infoHash, want: ["n4", "n6"] }, over4)
    assert.deepStrictEqual([both.nodes, both.nodes6], [v4Nodes, v6Nodes])
    const only6 = answer(ctx, { method: "get_peers", infoHash, want: ["n6"] }, over4)
    assert.deepStrictEqual([only6.nodes, only6.nodes6], [[], v6Nodes])
  })

  it("an announce over IPv6 stores the IPv6 peer; values carry the asker's family only", () => {
    const ctx = context()
    for (const from of [over4, over6]) {
      const got = answer(ctx, { method: "get_peers", infoHash }, from)
      if (got.token === undefined) return assert.fail("no token")
      answer(ctx, { method: "announce_peer", infoHash, port: 0, impliedPort: true, token: got.token }, from)
    }
    assert.deepStrictEqual(answer(ctx, { method: "get_peers", infoHash }, { host: "2001:db8::77", port: 1 }).values, [over6])
    assert.deepStrictEqual(answer(ctx, { method: "get_peers", infoHash, want: ["n6"] }, { host: "10.1.1.1", port: 1 }).values, [over4])
  })

  it("an IPv6 answer stays near 1024 bytes with a full store (BEP 32)", () => {
    const store = makePeerStore()
    for (let i = 1; i <= 200; i++) storePeer(store, idKey(infoHash), { host: `2001:db8::${i.toString(16)}`, port: i }, 0)
    const ctx = { ...context(), store, closest: () => Array.from({ length: 8 }, () => v6Node) }
    const q = ok(Krpc.encodeQuery(t, id(5), { method: "get_peers", infoHash }))
    if (q._tag !== "Query") return assert.fail("not a query")
    const bytes = answerQuery(ctx, q, over6, 1)
    assert.isAtMost(bytes.length, 1024 + 64)
    assert.strictEqual(peersFor(store, idKey(infoHash), 1, 6).length, 25)
  })
})

describe("a routing table per family (BEP 32)", () => {
  it("an IPv6 table holds only IPv6 nodes, an IPv4 table only IPv4 ones", () => {
    fc.assert(fc.property(fc.array(fc.oneof(arbNode6, fc.record({ id: fc.uint8Array({ minLength: 20, maxLength: 20 }), address: fc.record({ host: arbIpv4, port: arbPort }) })), { maxLength: 60 }), (nodes) => {
      let t4 = T.empty(id(0), 0, 4)
      let t6 = T.empty(id(0), 0, 6)
      for (const n of nodes) {
        t4 = T.heard(t4, n, "response", 1).table
        t6 = T.heard(t6, n, "response", 1).table
      }
      assert.isTrue(T.allNodes(t4).every((n) => !n.address.host.includes(":")))
      assert.isTrue(T.allNodes(t6).every((n) => n.address.host.includes(":")))
      const v6Count = new Set(nodes.filter((n) => n.address.host.includes(":")).map((n) => idKey(n.id))).size
      if (v6Count <= T.K) assert.strictEqual(T.size(t6), v6Count, "few enough IPv6 nodes: all kept")
    }))
  })
})

describe("state file with nodes6", () => {
  it("round trips both families; a file from before (no nodes6) loads; a bad nodes6 is refused", () => {
    const state = { id: id(7), nodes: [...v4Nodes], nodes6: [...v6Nodes] }
    assert.deepStrictEqual(decodeState(encodeState(state)), Result.succeed(state))
    const old = encode({ id: id(7), nodes: encodeNodes(v4Nodes, 4) })
    assert.deepStrictEqual(decodeState(old), Result.succeed({ id: id(7), nodes: v4Nodes }))
    assert.isTrue(Result.isFailure(decodeState(encode({ id: id(7), nodes: new Uint8Array(0), nodes6: new Uint8Array(37) }))))
  })
})
