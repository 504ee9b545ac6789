/**
 * The IPv6 DHT (BEP 32) over real UDP on ::1: nodes that know each other only by IPv6 find an
 * announced peer, a dual-stack node keeps one table per family, v6 nodes survive a restart,
 * and our client finds a seeder through an IPv6-only DHT and downloads from it.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, FileSystem, Layer, Random } from "effect"
import { join } from "node:path"
import { type DhtConfig, make, RoutingTable } from "../src/dht/index.ts"
import { idWithPrefix } from "../src/dht/id.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatAddress, NodeNetwork } from "../src/net/index.ts"
import { startNodeClient } from "./support/engine.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { eventually } from "./support/waiting.ts"

const env = Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)
const v6 = { host: "::1", port: 0 }
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)
const startNode = (config: Partial<DhtConfig> = {}) => make({ bind: v6, bootstrap: [], bootstrapOnStart: false, ...config })

/** As in dht-node.test.ts: node 0 starts with bit 0, the others with bit 1, the info-hash is 0xff..,
 * so node 0 is never among the K closest to it and a peer must be found deeper in the DHT. */
const swarm6 = (size: number) =>
  Effect.gen(function*() {
    const first = yield* startNode({ nodeId: bytes(20, 0) })
    // bootstrap given as text, the way a user writes it
    const bootstrap = [formatAddress(first.address)]
    assert.strictEqual(bootstrap[0], `[::1]:${first.address.port}`)
    const others = yield* Effect.forEach(Array.from({ length: size - 1 }, (_, i) => i), (i) =>
      Effect.gen(function*() {
        const noise = yield* Effect.forEach(Array.from({ length: 20 }), () => Random.nextIntBetween(0, 255))
        const id = idWithPrefix(bytes(20, 0), 0, true, Uint8Array.from(noise))
        id[19] = i
        return yield* startNode({ nodeId: id, bootstrap })
      }))
    for (const n of others) yield* n.bootstrap
    for (const n of others) yield* n.bootstrap
    return { first, others, bootstrap }
  })

describe("Dht nodes on ::1 (BEP 32)", () => {
  it.live("16 IPv6-only nodes: an announced peer is found by an iterative get_peers lookup", () =>
    Effect.gen(function*() {
      const { first, others, bootstrap } = yield* swarm6(16)
      assert.deepStrictEqual(first.families, [6])
      for (const n of others) {
        const stats = yield* n.stats
        assert.isAtLeast(stats.tableSize6, 8)
        const table = yield* n.routingTable6
        assert.isTrue(table !== undefined && RoutingTable.allNodes(table).every((e) => e.address.host === "::1"))
      }
      const infoHash = bytes(20, 0xff)
      const announcer = others[3]
      if (announcer === undefined) return assert.fail("no nodes")
      const result = yield* announcer.announce(infoHash, 7777)
      assert.isAtLeast(result.announcedTo, 1)
      assert.deepStrictEqual(yield* first.storedPeers(infoHash), [], "the peer is deeper in the DHT")

      const seeker = yield* startNode({ bootstrap })
      const peers = yield* seeker.getPeers(infoHash)
      assert.deepInclude(peers, { host: "::1", port: 7777 })
    }).pipe(Effect.provide(env)), 30_000)

  it.live("a dual-stack node (::) keeps an IPv4 and an IPv6 table and finds peers in both DHTs", () =>
    Effect.gen(function*() {
      const node4 = yield* make({ bind: { host: "127.0.0.1", port: 0 }, bootstrap: [], bootstrapOnStart: false })
      const node6 = yield* startNode()
      const dual = yield* make({
        bind: { host: "::", port: 0 },
        bootstrap: [`127.0.0.1:${node4.address.port}`, `[::1]:${node6.address.port}`],
        bootstrapOnStart: false
      })
      assert.deepStrictEqual(dual.families, [4, 6])
      const infoHash = bytes(20, 0x33)
      yield* dual.bootstrap
      const t4 = yield* dual.routingTable
      const t6 = yield* dual.routingTable6
      assert.deepStrictEqual(RoutingTable.allNodes(t4).map((n) => n.address), [node4.address])
      assert.deepStrictEqual(t6 === undefined ? [] : RoutingTable.allNodes(t6).map((n) => n.address), [node6.address])
      // one announce reaches both DHTs, each with the address of its family
      const announced = yield* dual.announce(infoHash, 9999)
      assert.strictEqual(announced.announcedTo, 2, "once per DHT")
      assert.deepStrictEqual(yield* node4.storedPeers(infoHash), [{ host: "127.0.0.1", port: 9999 }])
      assert.deepStrictEqual(yield* node6.storedPeers(infoHash), [{ host: "::1", port: 9999 }])
      const seeker = yield* make({
        bind: { host: "::", port: 0 },
        bootstrap: [`127.0.0.1:${node4.address.port}`, `[::1]:${node6.address.port}`],
        bootstrapOnStart: false
      })
      const peers = yield* seeker.getPeers(infoHash)
      assert.sameDeepMembers([...peers], [{ host: "127.0.0.1", port: 9999 }, { host: "::1", port: 9999 }])
    }).pipe(Effect.provide(env)), 30_000)

  it.live("a dual-stack node (::) bootstraps from a router given by name (`localhost`) that listens on 127.0.0.1 only", () =>
    Effect.gen(function*() {
      const router = yield* make({ bind: { host: "127.0.0.1", port: 0 }, bootstrap: [], bootstrapOnStart: false })
      const dual = yield* make({ bind: { host: "::", port: 0 }, bootstrap: [`localhost:${router.address.port}`], bootstrapOnStart: false })
      assert.deepStrictEqual(dual.families, [4, 6])
      // the name resolves to the address the dual-stack socket can reach: 127.0.0.1 (as ::ffff:127.0.0.1)
      assert.strictEqual(yield* dual.bootstrap, 1)
      const t4 = yield* dual.routingTable
      assert.deepStrictEqual(RoutingTable.allNodes(t4).map((n) => n.address), [router.address])
      // the query through the shared socket reached the IPv4 router, which now knows us by IPv4
      const known = RoutingTable.allNodes(yield* router.routingTable).map((n) => n.address)
      assert.deepStrictEqual(known, [{ host: "127.0.0.1", port: dual.address.port }])
    }).pipe(Effect.provide(env)), 30_000)

  it.live("an IPv4 node with bind6 joins the IPv6 DHT through a second socket", () =>
    Effect.gen(function*() {
      const node6 = yield* startNode()
      const both = yield* make({
        bind: { host: "127.0.0.1", port: 0 },
        bind6: v6,
        bootstrap: [`[::1]:${node6.address.port}`],
        bootstrapOnStart: false
      })
      assert.deepStrictEqual(both.families, [4, 6])
      assert.strictEqual(yield* both.bootstrap, 1)
      const infoHash = bytes(20, 0x44)
      const announced = yield* both.announce(infoHash, 5555)
      assert.strictEqual(announced.announcedTo, 1)
      assert.deepStrictEqual(yield* node6.storedPeers(infoHash), [{ host: "::1", port: 5555 }])
    }).pipe(Effect.provide(env)), 30_000)

  it.live("IPv6 nodes are saved with the state file and come back after a restart", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const stateFile = join(dir, "dht.state")
      const { bootstrap } = yield* swarm6(4)
      const before = yield* Effect.scoped(Effect.gen(function*() {
        const node = yield* startNode({ bootstrap, stateFile })
        yield* node.bootstrap
        const table = yield* node.routingTable6
        return table === undefined ? [] : RoutingTable.allNodes(table).map((n) => formatAddress(n.address)).sort()
      }))
      assert.lengthOf(before, 4)
      const node = yield* startNode({ stateFile })
      const table = yield* node.routingTable6
      const after = table === undefined ? [] : RoutingTable.allNodes(table).map((n) => formatAddress(n.address)).sort()
      assert.deepStrictEqual(after, before)
    }).pipe(Effect.provide(env)), 30_000)
})

describe("DHT peer discovery over IPv6", () => {
  it.live("a leecher on ::1 with no tracker and no peers finds the seeder through an IPv6-only DHT", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "dht6data/x.bin": 600_000 })
      const { torrent, metainfo } = yield* createTorrent(join(dir, "seed", "dht6data"), { pieceLength: 32768 }).pipe(
        Effect.provide(NodeFileSystem.layer)
      )
      const router = yield* make({ bind: v6, bootstrap: [] }).pipe(Effect.provide(env))
      const bootstrap = `[::1]:${router.address.port}`
      const seeder = yield* startNodeClient(join(dir, "seed"), { host: "::1", dht: { bootstrap: [bootstrap] } })
      const seeding = yield* seeder.add(torrent)
      yield* seeding.whenComplete
      const infoHash = metainfo.infoHash ?? new Uint8Array(20)
      yield* eventually("the seeder's announce to reach the router", router.storedPeers(infoHash), (peers) => peers.length > 0, 30)
      assert.deepStrictEqual(yield* router.storedPeers(infoHash), [{ host: "::1", port: seeder.port ?? 0 }])
      const leecher = yield* startNodeClient(join(dir, "leech"), { host: "::1", dht: { bootstrap: [bootstrap] } })
      const leeching = yield* leecher.add(torrent)
      yield* leeching.whenComplete.pipe(Effect.timeout("30 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "seed", "dht6data", "x.bin"), join(dir, "leech", "dht6data", "x.bin")))
    }).pipe(Effect.timeout("60 seconds")))
})
