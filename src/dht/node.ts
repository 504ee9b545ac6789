/**
 * A BEP 5 DHT node over `Network.udp`. All time comes from Effect's Clock and all
 * randomness from Effect's Random. The parts, each testable alone:
 * - contacts.ts: the routing table, kept up to date from traffic (pings of questionable nodes);
 * - server.ts: answering other nodes' queries (tokens, the peer store, rate limits);
 * - searches.ts: iterative lookups, announces, the bootstrap and the refresh of stale buckets;
 * - persistence.ts: the state file (node id and table).
 * This file wires them to one UDP socket and runs the receive loop and the refresh timer.
 */
import { Clock, Context, Effect, FileSystem, Layer, Schedule, type Scope } from "effect"
import { type Address, type NetError, Network, parseAddress } from "../net/index.ts"
import type { NodeInfo } from "./compact.ts"
import type { DhtConfig } from "./config.ts"
import { DEFAULT_BOOTSTRAP } from "./config.ts"
import { makeContacts } from "./contacts.ts"
import type { DhtQueryError } from "./errors.ts"
import { idKey, randomId } from "./id.ts"
import type { KrpcResponse, QueryBody } from "./krpc.ts"
import { loadState, saveState } from "./persistence.ts"
import { makePeerStore, peersFor } from "./peer-store.ts"
import { makeLimiter } from "./rate-limit.ts"
import { makeRpc } from "./rpc.ts"
import { type AnnounceResult, makeSearches } from "./searches.ts"
import { makeServer } from "./server.ts"
import * as Table from "./table.ts"

export type { AnnounceResult } from "./searches.ts"

export interface DhtStats {
  readonly received: number
  /** Datagrams that were not valid KRPC (wrong types, lengths, bencode...). */
  readonly malformed: number
  readonly rateLimited: number
  readonly queriesAnswered: number
  readonly announcesRejected: number
  /** Responses matching no outstanding query (late, forged, or from the wrong address). */
  readonly unmatched: number
  readonly tableSize: number
  /** Info-hashes other nodes announced to us. */
  readonly storedInfoHashes: number
}

export class Dht extends Context.Service<Dht, {
  readonly id: Uint8Array
  /** The bound UDP address. */
  readonly address: Address
  /** Iterative get_peers lookup: the peers found. */
  readonly getPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  /** get_peers lookup, then announce_peer (with each node's token) to the K closest that answered. */
  readonly announce: (infoHash: Uint8Array, port: number) => Effect.Effect<AnnounceResult>
  /** Iterative find_node lookup: the K closest nodes that answered. */
  readonly findNode: (target: Uint8Array) => Effect.Effect<ReadonlyArray<NodeInfo>>
  /** find_node for our own id through the bootstrap nodes and the table; returns the table size. */
  readonly bootstrap: Effect.Effect<number>
  /** One query with retries (low level: tests and diagnostics). */
  readonly query: (address: Address, body: QueryBody) => Effect.Effect<KrpcResponse, DhtQueryError>
  /** Peers stored here by other nodes' announces. */
  readonly storedPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  readonly routingTable: Effect.Effect<Table.RoutingTable>
  readonly stats: Effect.Effect<DhtStats>
  /** Writes the state file now (also done when the node closes). */
  readonly save: Effect.Effect<void>
}>()("effect-torrent/Dht") {}

export const make = Effect.fn("Dht.make")(function*(
  config: DhtConfig
): Effect.fn.Return<Dht["Service"], NetError, Network | FileSystem.FileSystem | Scope.Scope> {
  const network = yield* Network
  const fs = yield* FileSystem.FileSystem
  const saved = config.stateFile === undefined ? undefined : yield* loadState(fs, config.stateFile)
  const ownId = config.nodeId ?? saved?.id ?? (yield* randomId)
  const socket = config.socket ?? (yield* network.udp(config.bind))
  const bootstrapAddresses: ReadonlyArray<Address> = (config.bootstrap ?? DEFAULT_BOOTSTRAP).flatMap((b) => {
    const a = typeof b === "string" ? parseAddress(b) : b
    return a === undefined ? [] : [a]
  })
  const rpc = yield* makeRpc(socket, ownId, {
    timeoutMillis: config.queryTimeoutMillis ?? 2000,
    attempts: config.queryAttempts ?? 2
  })
  const contacts = yield* makeContacts(ownId, rpc)
  const store = makePeerStore()
  const server = yield* makeServer({
    ownId,
    socket,
    contacts,
    store,
    admit: makeLimiter(
      config.globalRateLimit ?? { perSecond: 200, burst: 400 },
      config.sourceRateLimit ?? { perSecond: 20, burst: 50 }
    ),
    deliver: rpc.deliver
  })
  const searches = makeSearches(ownId, contacts, bootstrapAddresses)

  yield* Effect.forkScoped(Effect.gen(function*() {
    for (;;) {
      const datagram = yield* socket.receive
      yield* server.handle(datagram.payload, datagram.from)
    }
  }).pipe(
    Effect.catchTag("ConnectionClosed", () => Effect.void),
    Effect.catchCause((cause) => Effect.logError("dht: receive loop stopped", cause))
  ))

  if (saved !== undefined) {
    const now = yield* Clock.currentTimeMillis
    // loaded nodes are questionable until they answer; the bootstrap lookup asks them
    for (const node of saved.nodes) contacts.update((table) => Table.heard(table, node, "query", now).table)
  }

  const save = config.stateFile === undefined
    ? Effect.void
    : Effect.suspend(() => saveState(fs, config.stateFile ?? "", { id: ownId, nodes: Table.allNodes(contacts.table()) }))
  yield* Effect.addFinalizer(() => save)

  yield* Effect.forkScoped(Effect.schedule(searches.refreshStale, Schedule.spaced(config.refreshCheckMillis ?? 60_000)))
  if (config.bootstrapOnStart ?? true) yield* Effect.forkScoped(searches.bootstrap)

  return Dht.of({
    id: ownId,
    address: socket.address,
    getPeers: searches.getPeers,
    announce: searches.announce,
    findNode: searches.findNode,
    bootstrap: searches.bootstrap,
    query: (address, body) => contacts.query(address, body),
    storedPeers: (infoHash) => Clock.currentTimeMillis.pipe(Effect.map((now) => peersFor(store, idKey(infoHash), now))),
    routingTable: Effect.sync(() => contacts.table()),
    stats: Effect.sync(() => ({ ...server.counters, tableSize: Table.size(contacts.table()), storedInfoHashes: store.size })),
    save
  })
})

export const layer = (config: DhtConfig): Layer.Layer<Dht, NetError, Network | FileSystem.FileSystem> =>
  Layer.effect(Dht, make(config))
