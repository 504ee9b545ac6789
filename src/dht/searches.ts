/**
 * The node's own searches: iterative lookups (lookup.ts) seeded from the routing table
 * (and from the bootstrap nodes while the table is thin), announces, the bootstrap, and
 * the refresh of buckets nobody touched for 15 minutes.
 */
import { Clock, Effect } from "effect"
import type { Address } from "../net/index.ts"
import type { Family, NodeInfo } from "./compact.ts"
import type { Contacts } from "./contacts.ts"
import { ID_LENGTH, randomBytes } from "./id.ts"
import { lookup, type LookupResult } from "./lookup.ts"
import * as Table from "./table.ts"

export interface AnnounceResult {
  readonly peers: ReadonlyArray<Address>
  /** Nodes that accepted our announce_peer. */
  readonly announcedTo: number
}

export interface Searches {
  readonly getPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  readonly announce: (infoHash: Uint8Array, port: number) => Effect.Effect<AnnounceResult>
  readonly findNode: (target: Uint8Array) => Effect.Effect<ReadonlyArray<NodeInfo>>
  /** find_node for our own id through the bootstrap nodes and the table; the table size after. */
  readonly bootstrap: Effect.Effect<number>
  /** A find_node lookup of a random id in every stale bucket. */
  readonly refreshStale: Effect.Effect<void>
}

/** The searches of one DHT (BEP 32: one per family), over that family's table. */
export const makeSearches = (ownId: Uint8Array, contacts: Contacts, bootstrapAddresses: ReadonlyArray<Address>): Searches => {
  const family: Family = contacts.family
  const runLookup = (target: Uint8Array, method: "find_node" | "get_peers", forceBootstrap: boolean) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const seeds = contacts.closest(target, now)
      const useBootstrap = forceBootstrap || seeds.length < Table.K
      return yield* lookup({
        ownId,
        target,
        method,
        seeds,
        bootstrap: useBootstrap ? bootstrapAddresses : [],
        family,
        query: (address, body, knownId) => contacts.query(address, body, knownId)
      })
    })

  const announce = Effect.fn("Dht.announce")(function*(infoHash: Uint8Array, port: number) {
    const result = yield* runLookup(infoHash, "get_peers", false)
    const accepted = yield* Effect.forEach(result.closest, ({ node, token }) =>
      token === undefined
        ? Effect.succeed(false)
        : contacts.query(node.address, { method: "announce_peer", infoHash, port, impliedPort: false, token }, node.id).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        ), { concurrency: "unbounded" })
    return { peers: result.peers, announcedTo: accepted.filter((ok) => ok).length } satisfies AnnounceResult
  })

  const refreshStale = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const index of Table.staleBuckets(contacts.table(), now)) {
      const target = Table.idInBucket(contacts.table(), index, yield* randomBytes(ID_LENGTH))
      contacts.update((table) => Table.touchBucket(table, index, now))
      yield* runLookup(target, "find_node", false)
    }
  })

  return {
    getPeers: (infoHash) => runLookup(infoHash, "get_peers", false).pipe(Effect.map((r: LookupResult) => r.peers)),
    announce,
    findNode: (target) => runLookup(target, "find_node", false).pipe(Effect.map((r) => r.closest.map((a) => a.node))),
    bootstrap: runLookup(ownId, "find_node", true).pipe(Effect.map(() => Table.size(contacts.table()))),
    refreshStale
  }
}
