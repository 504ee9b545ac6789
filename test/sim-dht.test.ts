/**
 * Trackerless discovery on the simulated network, in virtual time: a 200-node DHT whose
 * lookups must iterate to find an announced peer, magnet links resolved through the DHT
 * alone, and a swarm that grows through peer exchange alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { RoutingTable } from "../src/dht/index.ts"
import { advanceUntil, inVirtualTime, makeWorld, type SimDhtNode, simNodeId, startDhtSwarm } from "../src/sim/index.ts"

/** Leading bits two ids share. */
const commonPrefix = (a: Uint8Array, b: Uint8Array): number => {
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] ?? 0) ^ (b[i] ?? 0)
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

/**
 * Runs an effect while virtual time passes (lookups wait for answers and timeouts);
 * an absent effect (a missing node) is a failed test.
 */
const run = <A>(effect: Effect.Effect<A> | undefined) =>
  Effect.gen(function*() {
    if (effect === undefined) return assert.fail("no such node")
    let result: { readonly value: A } | undefined
    const fiber = yield* Effect.forkChild(effect.pipe(Effect.tap((value) => Effect.sync(() => { result = { value } }))))
    const now = yield* Clock.currentTimeMillis
    yield* advanceUntil({ done: () => result !== undefined, deadlineMs: now + 120_000, stepMs: 50 })
    yield* Fiber.interrupt(fiber)
    if (result === undefined) return assert.fail("did not finish within 2 virtual minutes")
    return result.value
  })

describe("DHT on the simulated network", () => {
  it.effect("200 nodes: an announced peer is found by distant nodes through iterative lookups", () =>
    inVirtualTime(
      Effect.gen(function*() {
        const world = yield* makeWorld({ seed: "dht-200" })
        const nodes = yield* startDhtSwarm(world, { nodes: 200, seed: "dht-200" })
        yield* advanceUntil({ done: () => false, deadlineMs: 40_000 })
        assert.strictEqual(nodes.length, 200)
        const infoHash = simNodeId("the announced torrent")
        const announcer = nodes[123]
        assert.isDefined(announcer)
        if (announcer === undefined) return

        // before the announce nobody has heard of the torrent
        assert.deepStrictEqual(yield* run(nodes[7]?.dht.getPeers(infoHash)), [])
        const result = yield* run(announcer.dht.announce(infoHash, 6881))
        assert.isAtLeast(result.announcedTo, 4)
        const storers = new Set<string>()
        for (const n of nodes) if ((yield* n.dht.storedPeers(infoHash)).length > 0) storers.add(n.address)
        assert.isAtLeast(storers.size, 4)
        assert.isAtMost(storers.size, RoutingTable.K)

        // Finders: on the far side of the id space from the torrent, their own table holds
        // no node that stored it, nor is one of their bootstrap nodes a storer: a single
        // round of get_peers could only return nodes, so a lookup that finds the peer has
        // iterated through at least one node it learnt during the lookup.
        const candidates: Array<SimDhtNode> = []
        for (const n of nodes) {
          if (n === announcer || storers.has(n.address)) continue
          if (commonPrefix(n.id, infoHash) !== 0) continue
          if (n.bootstrap.some((b) => storers.has(nodes.find((m) => m.index === b)?.address ?? ""))) continue
          const known = RoutingTable.allNodes(yield* n.dht.routingTable)
          if (known.some((e) => storers.has(e.address.host))) continue
          candidates.push(n)
        }
        assert.isAtLeast(candidates.length, 10, `finders available: ${candidates.length}`)
        const finders = candidates.slice(0, 10)
        const found = yield* Effect.forEach(finders, (n) => run(n.dht.getPeers(infoHash)), { concurrency: "unbounded" })
        for (const [i, peers] of found.entries()) {
          const finder = finders[i]
          assert.deepStrictEqual(
            peers.map((p) => `${p.host}:${p.port}`),
            [`${announcer.address}:6881`],
            `node ${finder?.index} found the announcer`
          )
        }
      }),
      { seed: "dht-200" }
    ), 120_000)
})
