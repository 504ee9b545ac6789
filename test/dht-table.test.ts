/** Routing table (BEP 5) properties: bucket sizes, splitting, liveness, closest-node ordering. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { RoutingTable as T } from "../src/dht/index.ts"
import { bytesEqual } from "../src/bytes.ts"
import { commonPrefixLength, compareDistance, idKey, idWithPrefix } from "../src/dht/id.ts"

const arbId = fc.uint8Array({ minLength: 20, maxLength: 20 })

/** Ids sharing a random-length prefix with `own`, so deep buckets (and splits) get exercised. */
const nearId = (own: Uint8Array) =>
  fc.tuple(fc.integer({ min: 0, max: 30 }), arbId).map(([prefix, noise]) => idWithPrefix(own, prefix, true, noise))

type Event =
  | { readonly kind: "response" | "query"; readonly id: Uint8Array; readonly port: number; readonly dt: number }
  | { readonly kind: "failed"; readonly pick: number; readonly dt: number }

const arbEvents = (own: Uint8Array) =>
  fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constantFrom("response" as const, "query" as const),
        id: fc.oneof(nearId(own), arbId),
        port: fc.integer({ min: 1, max: 65535 }),
        dt: fc.integer({ min: 0, max: 20 * 60_000 })
      }),
      fc.record({ kind: fc.constant("failed" as const), pick: fc.nat(), dt: fc.integer({ min: 0, max: 60_000 }) })
    ),
    { maxLength: 300 }
  )

const run = (own: Uint8Array, events: ReadonlyArray<Event>, check: (t: T.RoutingTable, now: number) => void) => {
  let now = 0
  let table = T.empty(own, now)
  for (const e of events) {
    now += e.dt
    if (e.kind === "failed") {
      const all = T.allNodes(table)
      const victim = all[e.pick % Math.max(1, all.length)]
      if (victim !== undefined) table = T.failed(table, victim.id, now)
    } else {
      table = T.heard(table, { id: e.id, address: { host: "127.0.0.1", port: e.port } }, e.kind, now).table
    }
    check(table, now)
  }
  return { table, now }
}

const invariants = (table: T.RoutingTable) => {
  const last = table.buckets.length - 1
  assert.isAtMost(table.buckets.length, 160)
  const seen = new Set<string>()
  table.buckets.forEach((b, i) => {
    assert.isAtMost(b.nodes.length, T.K, "at most K nodes per bucket")
    assert.isAtMost(b.replacements.length, T.K, "at most K replacements per bucket")
    for (const n of b.nodes) {
      assert.isFalse(bytesEqual(n.id, table.ownId), "own id never stored")
      const cpl = commonPrefixLength(table.ownId, n.id)
      // only the last bucket (the one containing our id) covers more than one prefix length
      if (i < last) assert.strictEqual(cpl, i)
      else assert.isAtLeast(cpl, last)
      const key = idKey(n.id)
      assert.isFalse(seen.has(key), "an id is stored once")
      seen.add(key)
    }
  })
  assert.strictEqual(T.bucketIndex(table, table.ownId), last, "our own id falls in the last bucket")
}

describe("routing table properties", () => {
  it("invariants hold after every event", () => {
    fc.assert(fc.property(arbId.chain((own) => fc.tuple(fc.constant(own), arbEvents(own))), ([own, events]) => {
      run(own, events, (t) => invariants(t))
    }), { numRuns: 200 })
  })

  it("a bucket other than our own id's never splits: full far buckets stay one bucket", () => {
    fc.assert(fc.property(arbId, fc.array(arbId, { minLength: 40, maxLength: 40 }), (own, noise) => {
      // 40 nodes all differing from us in the first bit: they all belong to bucket 0
      let table = T.empty(own, 0)
      for (const n of noise) table = T.heard(table, { id: idWithPrefix(own, 0, true, n), address: { host: "127.0.0.1", port: 1 } }, "response", 0).table
      assert.strictEqual(T.size(table), T.K)
      assert.strictEqual(table.buckets.length, 2) // split once (bucket 0 = far half), never again
      assert.strictEqual(table.buckets[0]?.nodes.length, T.K)
      assert.strictEqual(table.buckets[0]?.replacements.length, T.K)
    }))
  })

  it("closest() is sorted by XOR distance and equals the brute-force top n of non-bad nodes", () => {
    fc.assert(fc.property(
      arbId.chain((own) => fc.tuple(fc.constant(own), arbEvents(own), arbId, fc.integer({ min: 1, max: 20 }))),
      ([own, events, target, n]) => {
        const { now, table } = run(own, events, () => {})
        const got = T.closest(table, target, n, now)
        for (let i = 1; i < got.length; i++) {
          const a = got[i - 1]
          const b = got[i]
          if (a !== undefined && b !== undefined) assert.isAtMost(compareDistance(target, a.id, b.id), 0)
        }
        const expected = T.allNodes(table)
          .filter((e) => T.liveness(e, now) !== "bad")
          .sort((a, b) => compareDistance(target, a.id, b.id))
          .slice(0, n)
        assert.deepStrictEqual(got.map((e) => idKey(e.id)), expected.map((e) => idKey(e.id)))
      }
    ), { numRuns: 200 })
  })

  it("idInBucket lands in the requested bucket", () => {
    fc.assert(fc.property(arbId.chain((own) => fc.tuple(fc.constant(own), arbEvents(own), arbId)), ([own, events, noise]) => {
      const { table } = run(own, events, () => {})
      for (let i = 0; i < table.buckets.length; i++) {
        const id = T.idInBucket(table, i, noise)
        if (!bytesEqual(id, own)) assert.strictEqual(T.bucketIndex(table, id), i)
      }
    }))
  })
})

describe("liveness and replacement", () => {
  const own = new Uint8Array(20)
  const far = (b: number) => {
    const id = new Uint8Array(20).fill(b)
    id[0] = 0x80 | b // first bit differs from own: bucket 0 after the first split
    return id
  }
  const at = (port: number) => ({ host: "127.0.0.1", port })

  it("good -> questionable after 15 minutes -> good again on a response; bad after repeated failures", () => {
    let table = T.heard(T.empty(own, 0), { id: far(1), address: at(1) }, "response", 0).table
    const entry = () => T.find(table, far(1))
    const status = (now: number) => {
      const e = entry()
      return e === undefined ? "missing" : T.liveness(e, now)
    }
    assert.strictEqual(status(T.QUESTIONABLE_AFTER_MILLIS - 1), "good")
    assert.strictEqual(status(T.QUESTIONABLE_AFTER_MILLIS), "questionable")
    table = T.heard(table, { id: far(1), address: at(1) }, "response", T.QUESTIONABLE_AFTER_MILLIS).table
    assert.strictEqual(status(T.QUESTIONABLE_AFTER_MILLIS), "good")
    table = T.failed(table, far(1), 1)
    assert.strictEqual(status(1), "good")
    table = T.failed(table, far(1), 2)
    assert.strictEqual(status(2), "bad")
    assert.strictEqual(T.closest(table, far(1), 8, 2).length, 0)
  })

  it("a full bucket asks to ping its questionable nodes; a failed one is replaced by the newest candidate", () => {
    let table = T.empty(own, 0)
    for (let i = 1; i <= 16; i++) table = T.heard(table, { id: far(i), address: at(i) }, "response", 0).table
    // nodes with first bit 1 fill bucket 0 (after splitting): 8 in, 8 waiting
    const later = T.QUESTIONABLE_AFTER_MILLIS + 1
    const h = T.heard(table, { id: far(17), address: at(17) }, "response", later)
    assert.strictEqual(h.ping.length, T.K, "all 8 are questionable by now")
    table = h.table
    const victim = T.allNodes(table)[0]
    assert.isDefined(victim)
    if (victim === undefined) return
    table = T.failed(T.failed(table, victim.id, later), victim.id, later)
    assert.isUndefined(T.find(table, victim.id))
    assert.isDefined(T.find(table, far(17)), "newest replacement took the slot")
  })

  it("a known id at another address does not move (no slot hijacking)", () => {
    let table = T.heard(T.empty(own, 0), { id: far(1), address: at(1) }, "response", 0).table
    table = T.heard(table, { id: far(1), address: at(2) }, "response", 5).table
    assert.strictEqual(T.find(table, far(1))?.address.port, 1)
  })

  it("a bad node is replaced directly by a new one", () => {
    let table = T.empty(own, 0)
    for (let i = 1; i <= 8; i++) table = T.heard(table, { id: far(i), address: at(i) }, "response", 0).table
    table = T.failed(T.failed(table, far(3), 0), far(3), 0)
    table = T.heard(table, { id: far(40), address: at(40) }, "response", 0).table
    assert.isUndefined(T.find(table, far(3)))
    assert.isDefined(T.find(table, far(40)))
  })
})
