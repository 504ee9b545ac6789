/** Real DHT nodes over NodeNetwork on 127.0.0.1: lookups, announces, tokens, garbage, peer source. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Random, Result } from "effect"
import { type DhtConfig, dhtPeerSource, Krpc, make } from "../src/dht/index.ts"
import { idWithPrefix } from "../src/dht/id.ts"
import { type Address, Network, NodeNetwork } from "../src/net/index.ts"
import type { SwarmHooks } from "../src/torrent/index.ts"
import { eventually } from "./support/waiting.ts"

const env = Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)
const local = { host: "127.0.0.1", port: 0 }

export const startNode = (config: Partial<DhtConfig> = {}) =>
  make({ bind: local, bootstrap: [], bootstrapOnStart: false, ...config })

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

/** Node 0 (the only bootstrap node) gets an id starting 0x00, every other node one starting with bit 1,
 * and the info-hash is 0xff..: node 0 is then the farthest node from it and never among the K closest. */
const swarm = (size: number) =>
  Effect.gen(function*() {
    const first = yield* startNode({ nodeId: bytes(20, 0) })
    const others = yield* Effect.forEach(Array.from({ length: size - 1 }, (_, i) => i), (i) =>
      Effect.gen(function*() {
        const noise = yield* Effect.forEach(Array.from({ length: 20 }), () => Random.nextIntBetween(0, 255))
        const id = idWithPrefix(bytes(20, 0), 0, true, Uint8Array.from(noise))
        id[19] = i // distinct even if the random bits collide
        return yield* startNode({ nodeId: id, bootstrap: [first.address] })
      }))
    // join one after another, then once more so early joiners learn about late ones
    for (const n of others) yield* n.bootstrap
    for (const n of others) yield* n.bootstrap
    return { first, others }
  })

describe("Dht nodes on 127.0.0.1", () => {
  it.live("20 nodes: an announced peer is found by an iterative get_peers lookup", () =>
    Effect.gen(function*() {
      const { first, others } = yield* swarm(20)
      for (const n of others) assert.isAtLeast((yield* n.stats).tableSize, 8)
      const infoHash = bytes(20, 0xff)
      const announcer = others[3]
      assert.isDefined(announcer)
      if (announcer === undefined) return
      const result = yield* announcer.announce(infoHash, 7777)
      assert.isAtLeast(result.announcedTo, 1)

      // the bootstrap node holds nothing: the peer can only be found deeper in the DHT
      assert.deepStrictEqual(yield* first.storedPeers(infoHash), [])

      // a fresh node that only knows the bootstrap node
      const seeker = yield* startNode({ bootstrap: [first.address] })
      const peers = yield* seeker.getPeers(infoHash)
      assert.deepInclude(peers, { host: "127.0.0.1", port: 7777 })
      const holders = yield* Effect.forEach(others, (n) => n.storedPeers(infoHash))
      assert.isAtLeast(holders.filter((p) => p.length > 0).length, 1)
    }).pipe(Effect.provide(env)), 30_000)

  it.live("announce_peer with a bad token is rejected (203); with a get_peers token it is stored (implied_port)", () =>
    Effect.gen(function*() {
      const a = yield* startNode()
      const b = yield* startNode()
      const infoHash = bytes(20, 0x42)
      const rejected = yield* Effect.flip(
        a.query(b.address, { method: "announce_peer", infoHash, port: 1234, impliedPort: false, token: bytes(8, 1) })
      )
      assert.strictEqual(rejected._tag, "DhtRemoteError")
      if (rejected._tag === "DhtRemoteError") assert.strictEqual(rejected.code, 203)
      assert.strictEqual((yield* b.stats).announcesRejected, 1)
      assert.deepStrictEqual(yield* b.storedPeers(infoHash), [])

      const answer = yield* a.query(b.address, { method: "get_peers", infoHash })
      assert.isDefined(answer.token)
      if (answer.token === undefined) return
      yield* a.query(b.address, { method: "announce_peer", infoHash, port: 1, impliedPort: true, token: answer.token })
      assert.deepStrictEqual(yield* b.storedPeers(infoHash), [{ host: "127.0.0.1", port: a.address.port }])

      const again = yield* a.query(b.address, { method: "get_peers", infoHash })
      assert.deepStrictEqual(again.values, [{ host: "127.0.0.1", port: a.address.port }])
    }).pipe(Effect.provide(env)))

  it.live("garbage is counted, a malformed query with a transaction id gets a 203, an unknown method a 204", () =>
    Effect.gen(function*() {
      const node = yield* startNode()
      const raw = yield* (yield* Network).udp(local)
      yield* raw.send(Uint8Array.of(1, 2, 3), node.address)
      const t = Uint8Array.of(7, 7)
      // find_node with a 5-byte target
      yield* raw.send(
        Krpc.encodeQuery(t, bytes(20, 1), { method: "find_node", target: bytes(5, 0) }),
        node.address
      )
      const first = yield* raw.receive
      const e1 = Krpc.decodeMessage(first.payload)
      assert.isTrue(Result.isSuccess(e1) && e1.success._tag === "Error" && e1.success.code === 203)
      const unknown = new TextEncoder().encode("d1:ad2:id20:abcdefghij0123456789e1:q4:vote1:t2:xy1:y1:qe")
      yield* raw.send(unknown, node.address)
      const second = yield* raw.receive
      const e2 = Krpc.decodeMessage(second.payload)
      assert.isTrue(Result.isSuccess(e2) && e2.success._tag === "Error" && e2.success.code === 204)
      const stats = yield* node.stats
      assert.strictEqual(stats.malformed, 3)
      assert.strictEqual(stats.received, 3)
    }).pipe(Effect.provide(env)))

  it.live("dhtPeerSource: peers reach addPeers for a public torrent; a private torrent never touches the DHT", () =>
    Effect.gen(function*() {
      const { first, others } = yield* swarm(10)
      const infoHash = bytes(20, 0xee)
      const holder = others[0]
      if (holder === undefined) return assert.fail("no nodes")
      yield* holder.announce(infoHash, 9999)

      const user = yield* startNode({ bootstrap: [first.address] })
      const hooks = (isPrivate: boolean, port: number, added: Array<{ readonly peers: ReadonlyArray<Address>; readonly source: string }>): SwarmHooks => ({
        infoHash,
        peerId: bytes(20, 9),
        port,
        isPrivate,
        trackers: [],
        stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: 1 }),
        completed: Effect.never,
        addPeers: (peers, source) => Effect.sync(() => void added.push({ peers, source })),
        reportTracker: () => Effect.void
      })
      // A private torrent (port 5556) starts first and runs for as long as a public one (port 5555)
      // takes to find the peer and announce itself: whatever the private one would do, it had the time.
      const privateAdded: Array<{ readonly peers: ReadonlyArray<Address>; readonly source: string }> = []
      const publicAdded: Array<{ readonly peers: ReadonlyArray<Address>; readonly source: string }> = []
      yield* Effect.scoped(Effect.gen(function*() {
        yield* dhtPeerSource(user)(hooks(true, 5556, privateAdded))
        yield* Effect.scoped(Effect.gen(function*() {
          yield* dhtPeerSource(user)(hooks(false, 5555, publicAdded))
          yield* eventually(
            "the public torrent to get the peer and to be announced",
            Effect.forEach(others, (n) => n.storedPeers(infoHash)),
            (stored) => publicAdded.length > 0 && stored.some((ps) => ps.some((p) => p.port === 5555)),
            20
          )
        }))
      }))
      assert.strictEqual(publicAdded[0]?.source, "dht")
      assert.deepInclude(publicAdded[0]?.peers ?? [], { host: "127.0.0.1", port: 9999 })
      assert.deepStrictEqual(privateAdded, [], "a private torrent got peers from the DHT")
      const stored = yield* Effect.forEach([first, ...others], (n) => n.storedPeers(infoHash))
      assert.isFalse(stored.some((ps) => ps.some((p) => p.port === 5556)), "a private torrent was announced to the DHT")
    }).pipe(Effect.provide(env)), 30_000)
})
