/**
 * A BEP 5 DHT node over `Network.udp`, in the IPv4 and the IPv6 DHT (BEP 32) alike. All time comes from Effect's Clock and all
 * randomness from Effect's Random. The parts, each testable alone:
 * - contacts.ts: the routing table, kept up to date from traffic (pings of questionable nodes);
 * - server.ts: answering other nodes' queries (tokens, the peer store, rate limits);
 * - searches.ts: iterative lookups, announces, the bootstrap and the refresh of stale buckets;
 * - persistence.ts: the state file (node id and table).
 * This file wires them to the UDP socket(s) and runs the receive loops and the refresh timer.
 *
 * BEP 32: the IPv4 and IPv6 DHTs are independent, so each family has its own routing table
 * (contacts.ts) and searches; the node id, the peer store and the rpc are shared. One socket
 * bound to `::` is dual-stack and serves both families (a datagram's family is its source
 * address's); a socket bound to an IPv4 or a specific IPv6 address serves its family only, and
 * `bind6` adds an IPv6 socket beside an IPv4 one (libtorrent's layout: one socket per family,
 * IPv6 ones IPV6_V6ONLY). The client's shared UDP port (utp/port.ts) is one `::` socket.
 */
import { Clock, Context, Effect, FileSystem, Layer, Schedule, type Scope } from "effect"
import { type Address, formatAddress, type NetError, NetIoError, Network, parseAddress, type UdpSocket } from "../net/index.ts"
import { type Family, familyOf, type NodeInfo } from "./compact.ts"
import type { DhtConfig } from "./config.ts"
import { DEFAULT_BOOTSTRAP } from "./config.ts"
import { type Contacts, makeContacts } from "./contacts.ts"
import type { DhtQueryError } from "./errors.ts"
import { idKey, randomId } from "./id.ts"
import type { KrpcResponse, QueryBody } from "./krpc.ts"
import { loadState, saveState } from "./persistence.ts"
import { makePeerStore, peersFor } from "./peer-store.ts"
import { makeLimiter } from "./rate-limit.ts"
import { makeRpc } from "./rpc.ts"
import { type AnnounceResult, makeSearches, type Searches } from "./searches.ts"
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
  /** Nodes in both routing tables. */
  readonly tableSize: number
  /** Nodes in the IPv6 routing table (BEP 32). */
  readonly tableSize6: number
  /** Info-hashes other nodes announced to us. */
  readonly storedInfoHashes: number
}

export class Dht extends Context.Service<Dht, {
  readonly id: Uint8Array
  /** The bound UDP address (the IPv4 or dual-stack socket's when there are two). */
  readonly address: Address
  /** The DHTs this node takes part in: 4, 6 or both (BEP 32). */
  readonly families: ReadonlyArray<Family>
  /** Iterative get_peers lookup in every family: the peers found. */
  readonly getPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  /** get_peers lookup, then announce_peer (with each node's token) to the K closest that answered. */
  readonly announce: (infoHash: Uint8Array, port: number) => Effect.Effect<AnnounceResult>
  /** Iterative find_node lookup: the K closest nodes that answered. */
  readonly findNode: (target: Uint8Array) => Effect.Effect<ReadonlyArray<NodeInfo>>
  /** find_node for our own id through the bootstrap nodes and the tables; returns the tables' size. */
  readonly bootstrap: Effect.Effect<number>
  /** One query with retries (low level: tests and diagnostics). */
  readonly query: (address: Address, body: QueryBody) => Effect.Effect<KrpcResponse, DhtQueryError>
  /** Peers stored here by other nodes' announces. */
  readonly storedPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  /** The IPv4 table, or the IPv6 one on a node in the IPv6 DHT only. */
  readonly routingTable: Effect.Effect<Table.RoutingTable>
  /** The IPv6 table (BEP 32); undefined when the node has no IPv6 socket. */
  readonly routingTable6: Effect.Effect<Table.RoutingTable | undefined>
  readonly stats: Effect.Effect<DhtStats>
  /** Writes the state file now (also done when the node closes). */
  readonly save: Effect.Effect<void>
}>()("effect-torrent/Dht") {}

/** The families a socket bound to `address` serves: `::` is dual-stack. */
const socketFamilies = (address: Address): ReadonlyArray<Family> => {
  if (address.host === "::") return [4, 6]
  const family = familyOf(address)
  return family === undefined ? [] : [family]
}

/** Unique by `host:port`, first seen first. */
const mergePeers = (lists: ReadonlyArray<ReadonlyArray<Address>>): ReadonlyArray<Address> => {
  const out = new Map<string, Address>()
  for (const list of lists) for (const a of list) if (!out.has(formatAddress(a))) out.set(formatAddress(a), a)
  return [...out.values()]
}

export const make = Effect.fn("Dht.make")(function*(
  config: DhtConfig
): Effect.fn.Return<Dht["Service"], NetError, Network | FileSystem.FileSystem | Scope.Scope> {
  const network = yield* Network
  const fs = yield* FileSystem.FileSystem
  const saved = config.stateFile === undefined ? undefined : yield* loadState(fs, config.stateFile)
  const ownId = config.nodeId ?? saved?.id ?? (yield* randomId)
  const socket = config.socket ?? (yield* network.udp(config.bind))
  const socket6 = config.bind6 === undefined ? undefined : yield* network.udp(config.bind6)
  const mainFamilies = socketFamilies(socket.address)
  const sockets: Record<Family, UdpSocket | undefined> = {
    4: mainFamilies.includes(4) ? socket : undefined,
    6: socket6 ?? (mainFamilies.includes(6) ? socket : undefined)
  }
  const families = ([4, 6] as const).filter((f) => sockets[f] !== undefined)
  const primary: Family = families[0] ?? 4
  // Queries leave through their family's socket; a host name (a router) through the primary one.
  const sender: Pick<UdpSocket, "send"> = {
    send: (payload, to) => {
      const s = sockets[familyOf(to) ?? primary]
      return s === undefined
        ? Effect.fail(new NetIoError({ op: "send", address: formatAddress(to), detail: `this DHT node has no IPv${familyOf(to)} socket` }))
        : s.send(payload, to)
    }
  }
  const bootstrapAddresses: ReadonlyArray<Address> = (config.bootstrap ?? DEFAULT_BOOTSTRAP).flatMap((b) => {
    const a = typeof b === "string" ? parseAddress(b) : b
    return a === undefined ? [] : [a]
  })
  const rpc = yield* makeRpc(sender, ownId, {
    timeoutMillis: config.queryTimeoutMillis ?? 2000,
    attempts: config.queryAttempts ?? 2
  })
  const contactsByFamily: Partial<Record<Family, Contacts>> = {}
  for (const family of families) contactsByFamily[family] = yield* makeContacts(ownId, rpc, family)
  const tables = () => families.flatMap((f) => contactsByFamily[f]?.table() ?? [])
  const store = makePeerStore()
  const server = yield* makeServer({
    ownId,
    contacts: (family) => contactsByFamily[family],
    store,
    admit: makeLimiter(
      config.globalRateLimit ?? { perSecond: 200, burst: 400 },
      config.sourceRateLimit ?? { perSecond: 20, burst: 50 }
    ),
    deliver: rpc.deliver
  })
  // BEP 32: one search per DHT; an IP literal bootstraps its own family, a host name any
  const searches = families.flatMap((family) => {
    const contacts = contactsByFamily[family]
    if (contacts === undefined) return []
    const own = bootstrapAddresses.filter((a) => (familyOf(a) ?? family) === family)
    return [makeSearches(ownId, contacts, own)]
  })
  const each = <A>(f: (s: Searches) => Effect.Effect<A>) => Effect.forEach(searches, f, { concurrency: "unbounded" })

  for (const s of socket6 === undefined || socket6 === socket ? [socket] : [socket, socket6]) {
    yield* Effect.forkScoped(Effect.gen(function*() {
      for (;;) {
        const datagram = yield* s.receive
        yield* server.handle(datagram.payload, datagram.from, s)
      }
    }).pipe(
      Effect.catchTag("ConnectionClosed", () => Effect.void),
      Effect.catchCause((cause) => Effect.logError("dht: receive loop stopped", cause))
    ))
  }

  if (saved !== undefined) {
    const now = yield* Clock.currentTimeMillis
    // loaded nodes are questionable until they answer; the bootstrap lookup asks them.
    // Each table takes only its family's nodes (Table.heard).
    for (const node of [...saved.nodes, ...(saved.nodes6 ?? [])]) {
      const contacts = contactsByFamily[familyOf(node.address) ?? 4]
      contacts?.update((table) => Table.heard(table, node, "query", now).table)
    }
  }

  const nodesOf = (family: Family) => {
    const contacts = contactsByFamily[family]
    return contacts === undefined ? [] : Table.allNodes(contacts.table())
  }
  const save = config.stateFile === undefined
    ? Effect.void
    : Effect.suspend(() => saveState(fs, config.stateFile ?? "", { id: ownId, nodes: nodesOf(4), nodes6: nodesOf(6) }))
  yield* Effect.addFinalizer(() => save)

  yield* Effect.forkScoped(Effect.schedule(each((s) => s.refreshStale), Schedule.spaced(config.refreshCheckMillis ?? 60_000)))
  if (config.bootstrapOnStart ?? true) yield* Effect.forkScoped(each((s) => s.bootstrap))

  const tableOf = (family: Family) => Effect.sync(() => contactsByFamily[family]?.table())
  return Dht.of({
    id: ownId,
    address: socket.address,
    families,
    getPeers: (infoHash) => each((s) => s.getPeers(infoHash)).pipe(Effect.map(mergePeers)),
    announce: (infoHash, port) =>
      each((s) => s.announce(infoHash, port)).pipe(Effect.map((results): AnnounceResult => ({
        peers: mergePeers(results.map((r) => r.peers)),
        announcedTo: results.reduce((n, r) => n + r.announcedTo, 0)
      }))),
    findNode: (target) => each((s) => s.findNode(target)).pipe(Effect.map((lists) => lists.flat())),
    bootstrap: each((s) => s.bootstrap).pipe(Effect.map(() => tables().reduce((n, t) => n + Table.size(t), 0))),
    query: (address, body) =>
      contactsByFamily[familyOf(address) ?? primary]?.query(address, body) ?? rpc.query(address, body).pipe(Effect.map((r) => r.response)),
    storedPeers: (infoHash) => Clock.currentTimeMillis.pipe(Effect.map((now) => peersFor(store, idKey(infoHash), now))),
    routingTable: Effect.sync(() => contactsByFamily[primary]?.table() ?? Table.empty(ownId, 0, primary)),
    routingTable6: tableOf(6),
    stats: Effect.sync(() => ({
      ...server.counters,
      tableSize: tables().reduce((n, t) => n + Table.size(t), 0),
      tableSize6: Table.size(contactsByFamily[6]?.table() ?? Table.empty(ownId, 0, 6)),
      storedInfoHashes: store.size
    })),
    save
  })
})

export const layer = (config: DhtConfig): Layer.Layer<Dht, NetError, Network | FileSystem.FileSystem> =>
  Layer.effect(Dht, make(config))
