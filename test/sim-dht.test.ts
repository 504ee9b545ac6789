/**
 * Trackerless discovery on the simulated network, in virtual time: a 200-node DHT whose
 * lookups must iterate to find an announced peer, magnet links resolved through the DHT
 * alone, and a swarm that grows through peer exchange alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { RoutingTable } from "../src/dht/index.ts"
import {
  addressOf,
  advanceUntil,
  inVirtualTime,
  type MagnetScenarioReport,
  makeWorld,
  runMagnetScenario,
  type SimDhtNode,
  simNodeId,
  startDhtSwarm
} from "../src/sim/index.ts"
import { simEventsOf } from "./support/trace.ts"

const KiB = 1024
const MiB = 1024 * KiB

const linesOf = (report: MagnetScenarioReport, kind: string) => simEventsOf(report.trace, kind)


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

  it.effect("a magnet link with no tracker and no peers: the DHT finds the seed, metadata and data follow", () =>
    Effect.gen(function*() {
      const size = 4 * MiB
      const report = yield* runMagnetScenario({
        seed: "magnet-dht",
        discovery: "dht",
        dhtNodes: 24,
        leechers: 4,
        torrent: { size, pieceLength: 64 * KiB }
      })
      const leechers = report.peers.filter((p) => p.role === "leecher")
      assert.strictEqual(report.magnet, `magnet:?xt=urn:btih:${report.infoHash}`, "the link names the info-hash only")
      assert.isTrue(report.allComplete, JSON.stringify(leechers))
      assert.isTrue(report.dataVerified)
      assert.strictEqual(linesOf(report, "metadata").length, 4)
      for (const p of leechers) {
        assert.isNotNull(p.metadataAtMs)
        assert.isAbove(p.discovered["dht"] ?? 0, 0, `${p.name} found peers through the DHT`)
        assert.isAtLeast(p.bytesFromSeeds + p.bytesFromPeers, size)
      }
      // the first leecher had nobody but the seed to get the data from
      assert.isAtLeast(leechers[0]?.bytesFromSeeds ?? 0, size)
      // the last one also found the earlier leechers (they announced themselves) and got data from them
      assert.isAbove(leechers[3]?.bytesFromPeers ?? 0, size / 4)
    }), 120_000)

  it.effect("a magnet link naming one leecher: the seed is learnt through PEX from it, and serves most of the data", () =>
    Effect.gen(function*() {
      const size = 2 * MiB
      const report = yield* runMagnetScenario({
        seed: "magnet-pex",
        discovery: "pex",
        leechers: 2,
        torrent: { size, pieceLength: 64 * KiB },
        // leecher-0 alone would need 2 MiB / 10 kB/s ≈ 210 s to serve leecher-1
        links: { "leecher-0": { uploadBps: 10_000 } }
      })
      const [l1, l2] = report.peers.filter((p) => p.role === "leecher")
      assert.isTrue(report.allComplete, JSON.stringify(report.peers))
      assert.isTrue(report.dataVerified)
      const seed = `${addressOf("seed", 0)}:6881`
      const l1Address = addressOf("leecher", 0)
      const l2Address = addressOf("leecher", 1)
      // leecher-1's magnet named leecher-0 alone; there is no tracker and no DHT
      const dialled = linesOf(report, "connect").filter((c) => String(c.from).startsWith(`${l2Address}:`)).map((c) => String(c.to))
      assert.includeMembers(dialled, [`${l1Address}:6881`, seed])
      const l2Pex = linesOf(report, "discovered").filter((d) => d.host === "leecher-1" && d.source === "pex")
      assert.isAbove(l2Pex.length, 0)
      const firstDial = linesOf(report, "connect").find((c) => String(c.from).startsWith(`${l2Address}:`) && c.to === seed)
      assert.isAtLeast(firstDial?.t ?? -1, l2Pex[0]?.t ?? Infinity, "leecher-1 dialled the seed only after PEX told it")
      assert.isAbove(report.bytesBetween(addressOf("seed", 0), l2Address), size / 2)
      assert.isBelow(l2?.completedAtMs ?? Infinity, 150_000)
      assert.isAtLeast(l1?.bytesFromSeeds ?? 0, size)
    }), 120_000)

  it.effect("the same seed gives the same trace byte for byte (DHT magnet swarm with UDP loss); another seed another", () =>
    Effect.gen(function*() {
      const spec = {
        discovery: "dht" as const,
        dhtNodes: 12,
        leechers: 3,
        torrent: { size: 1 * MiB, pieceLength: 32 * KiB },
        network: { udp: { loss: 0.1 } }
      }
      const a = yield* runMagnetScenario({ ...spec, seed: "same" })
      const b = yield* runMagnetScenario({ ...spec, seed: "same" })
      const c = yield* runMagnetScenario({ ...spec, seed: "other" })
      assert.isTrue(a.allComplete && b.allComplete && c.allComplete)
      assert.isAbove(a.trace.length, 50)
      assert.isAbove(linesOf(a, "udp-lost").length, 0, "datagrams were lost, and the DHT coped")
      assert.strictEqual(a.trace.join("\n"), b.trace.join("\n"))
      assert.deepStrictEqual(a.peers, b.peers)
      assert.notStrictEqual(a.trace.join("\n"), c.trace.join("\n"))
    }), 120_000)
})
