/** DHT behaviour on virtual time (TestClock) with real sockets on 127.0.0.1: timeouts, retries, tokens, rate limits; persistence. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FileSystem, Layer, Result, Scope } from "effect"
import { TestClock } from "effect/testing"
import { type DhtConfig, Krpc, make, RoutingTable } from "../src/dht/index.ts"
import { idKey } from "../src/dht/id.ts"
import { Network, NodeNetwork } from "../src/net/index.ts"
import { eventually } from "./support/waiting.ts"

const env = Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)
const local = { host: "127.0.0.1", port: 0 }
const startNode = (config: Partial<DhtConfig> = {}) => make({ bind: local, bootstrap: [], bootstrapOnStart: false, ...config })
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe("Dht on TestClock", () => {
  it.effect("a query to a silent node is retried with the same transaction id, then fails with DhtTimeout", () =>
    Effect.gen(function*() {
      const node = yield* startNode({ queryTimeoutMillis: 2000, queryAttempts: 2 })
      const silent = yield* (yield* Network).udp(local)
      const fiber = yield* Effect.forkChild(node.query(silent.address, { method: "ping" }))
      const first = yield* silent.receive
      yield* TestClock.adjust(1999)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      const second = yield* silent.receive
      assert.deepStrictEqual(second.payload, first.payload, "retry reuses the transaction id")
      yield* TestClock.adjust(2000)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "DhtTimeout")
      if (error._tag === "DhtTimeout") assert.strictEqual(error.attempts, 2)
    }).pipe(Effect.provide(env)))

  it.effect("a late answer to the first attempt still completes the query; a forged answer from elsewhere does not", () =>
    Effect.gen(function*() {
      const node = yield* startNode({ queryTimeoutMillis: 2000, queryAttempts: 2 })
      const net = yield* Network
      const peer = yield* net.udp(local)
      const forger = yield* net.udp(local)
      const fiber = yield* Effect.forkChild(node.query(peer.address, { method: "ping" }))
      const q = Krpc.decodeMessage((yield* peer.receive).payload)
      if (Result.isFailure(q)) return assert.fail("query did not decode")
      yield* forger.send(Krpc.encodeResponse(q.success.t, bytes(20, 6)), node.address)
      yield* eventually("the forged reply to be counted", node.stats, (s) => s.unmatched === 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* peer.send(Krpc.encodeResponse(q.success.t, bytes(20, 5)), node.address)
      const r = yield* Fiber.join(fiber)
      assert.deepStrictEqual(r.id, bytes(20, 5))
      // and the answering node is now in the table
      assert.isDefined(RoutingTable.find(yield* node.routingTable, bytes(20, 5)))
    }).pipe(Effect.provide(env)))

  it.effect("tokens stay valid across one secret rotation (5 min) and expire after two", () =>
    Effect.gen(function*() {
      const a = yield* startNode()
      const b = yield* startNode()
      const infoHash = bytes(20, 3)
      const got = yield* a.query(b.address, { method: "get_peers", infoHash })
      const token = got.token
      if (token === undefined) return assert.fail("no token")
      const announce = a.query(b.address, { method: "announce_peer", infoHash, port: 4000, impliedPort: false, token })
      yield* TestClock.adjust("5 minutes")
      yield* announce
      assert.deepStrictEqual(yield* b.storedPeers(infoHash), [{ host: "127.0.0.1", port: 4000 }])
      yield* TestClock.adjust("5 minutes")
      const e = yield* Effect.flip(announce)
      assert.strictEqual(e._tag, "DhtRemoteError")
      // stored 30 minutes ago (at minute 5): expired
      yield* TestClock.adjust("24 minutes")
      assert.strictEqual((yield* b.storedPeers(infoHash)).length, 1)
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(yield* b.storedPeers(infoHash), [])
    }).pipe(Effect.provide(env)))

  it.effect("incoming queries beyond the per-source token bucket are dropped and counted", () =>
    Effect.gen(function*() {
      const node = yield* startNode({ sourceRateLimit: { perSecond: 1, burst: 3 } })
      const raw = yield* (yield* Network).udp(local)
      for (let i = 0; i < 10; i++) {
        yield* raw.send(Krpc.encodeQuery(Uint8Array.of(0, i), bytes(20, 1), { method: "ping" }), node.address)
      }
      const stats = yield* eventually("ten datagrams", node.stats, (s) => s.received === 10)
      assert.strictEqual(stats.rateLimited, 7)
      assert.strictEqual(stats.queriesAnswered, 3)
      for (let i = 0; i < 3; i++) yield* raw.receive
      // one second later the bucket holds one token again
      yield* TestClock.adjust("1 second")
      yield* raw.send(Krpc.encodeQuery(Uint8Array.of(1, 0), bytes(20, 1), { method: "ping" }), node.address)
      const reply = Krpc.decodeMessage((yield* raw.receive).payload)
      assert.isTrue(Result.isSuccess(reply) && reply.success._tag === "Response")
      assert.strictEqual((yield* node.stats).rateLimited, 7)
    }).pipe(Effect.provide(env)))
})

describe("Dht refresh and bootstrap", () => {
  it.effect("a bucket untouched for 15 minutes is refreshed with a find_node lookup", () =>
    Effect.gen(function*() {
      const node = yield* startNode()
      const peer = yield* (yield* Network).udp(local)
      const fiber = yield* Effect.forkChild(node.query(peer.address, { method: "ping" }))
      const ping = Krpc.decodeMessage((yield* peer.receive).payload)
      if (Result.isFailure(ping)) return assert.fail("ping did not decode")
      yield* peer.send(Krpc.encodeResponse(ping.success.t, bytes(20, 8)), node.address)
      yield* Fiber.join(fiber)
      yield* TestClock.adjust("14 minutes")
      yield* TestClock.adjust("1 minute")
      const next = Krpc.decodeMessage((yield* peer.receive).payload)
      assert.isTrue(Result.isSuccess(next) && next.success._tag === "Query" && next.success.body.method === "find_node")
    }).pipe(Effect.provide(env)))

  it.live("a bootstrap node given by host name answers from its IP and lands in the table under that IP", () =>
    Effect.gen(function*() {
      const router = yield* startNode()
      const node = yield* startNode({ bootstrap: [`localhost:${router.address.port}`] })
      assert.strictEqual(yield* node.bootstrap, 1)
      const entry = RoutingTable.find(yield* node.routingTable, router.id)
      assert.deepStrictEqual(entry?.address, { host: "127.0.0.1", port: router.address.port })
    }).pipe(Effect.provide(env)))
})

describe("Dht persistence", () => {
  it.live("the routing table and node id survive a restart; a corrupt state file is ignored", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const stateFile = `${dir}/dht.state`
      const peers = yield* Effect.forEach([1, 2, 3, 4, 5], () => startNode())
      const scope = yield* Scope.make()
      const first = yield* startNode({ stateFile, bootstrap: peers.map((p) => p.address) }).pipe(Scope.provide(scope))
      yield* first.bootstrap
      const before = RoutingTable.allNodes(yield* first.routingTable).map((n) => idKey(n.id)).sort()
      assert.strictEqual(before.length, 5)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(yield* fs.exists(stateFile))

      const second = yield* startNode({ stateFile })
      assert.deepStrictEqual(second.id, first.id)
      const after = RoutingTable.allNodes(yield* second.routingTable).map((n) => idKey(n.id)).sort()
      assert.deepStrictEqual(after, before)
      // loaded nodes are usable right away: a lookup through them works without bootstrap nodes
      const found = yield* second.findNode(bytes(20, 0x55))
      assert.strictEqual(found.length, 5)

      yield* fs.writeFile(stateFile, Uint8Array.of(0x64, 0x32, 0x3a))
      const third = yield* startNode({ stateFile })
      assert.notDeepEqual(third.id, first.id)
      assert.strictEqual(RoutingTable.size(yield* third.routingTable), 0)
    }).pipe(Effect.provide(env)))
})
