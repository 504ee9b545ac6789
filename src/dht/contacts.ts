/**
 * The node's routing table and its upkeep from traffic: every answer and every query we
 * hear records its sender (table.ts), a query that times out marks a known node failed,
 * and a full bucket's questionable nodes are pinged so dead ones make room. Outgoing
 * queries go through here so the table learns from them.
 */
import { Clock, Effect, FiberSet, type Scope } from "effect"
import type { Address } from "../net/index.ts"
import type { Family, NodeInfo } from "./compact.ts"
import type { DhtQueryError } from "./errors.ts"
import { idKey } from "./id.ts"
import type { KrpcResponse, QueryBody } from "./krpc.ts"
import * as Table from "./table.ts"

export interface Contacts {
  /** The DHT (BEP 32) whose table this is. */
  readonly family: Family
  readonly table: () => Table.RoutingTable
  readonly update: (f: (table: Table.RoutingTable) => Table.RoutingTable) => void
  /** One query with retries; `knownId` marks the node failed in the table on a time-out. */
  readonly query: (address: Address, body: QueryBody, knownId?: Uint8Array) => Effect.Effect<KrpcResponse, DhtQueryError>
  /** Records a node we heard from; pings the questionable nodes of its full bucket in the background. */
  readonly noteHeard: (node: NodeInfo, kind: "response" | "query", now: number) => Effect.Effect<void>
  /** The K closest known nodes to `target`. */
  readonly closest: (target: Uint8Array, now: number) => ReadonlyArray<Table.NodeEntry>
}

/** rpc.ts `query`: the answer and the address it came from. */
export type RpcQuery = (
  address: Address,
  body: QueryBody
) => Effect.Effect<{ readonly response: KrpcResponse; readonly from: Address }, DhtQueryError>

export const makeContacts = (
  ownId: Uint8Array,
  rpc: { readonly query: RpcQuery },
  family: Family = 4
): Effect.Effect<Contacts, never, Scope.Scope> =>
  Effect.gen(function*() {
    let table = Table.empty(ownId, yield* Clock.currentTimeMillis, family)
    const pinging = new Set<string>()
    // background pings die with the node
    const background = yield* FiberSet.make()

    const query = (address: Address, body: QueryBody, knownId?: Uint8Array): Effect.Effect<KrpcResponse, DhtQueryError> =>
      rpc.query(address, body).pipe(
        Effect.tap(({ from, response }) =>
          Clock.currentTimeMillis.pipe(Effect.flatMap((now) => noteHeard({ id: response.id, address: from }, "response", now)))
        ),
        Effect.map(({ response }) => response),
        Effect.tapError((e) =>
          e._tag === "DhtTimeout" && knownId !== undefined
            ? Clock.currentTimeMillis.pipe(Effect.map((now) => {
              table = Table.failed(table, knownId, now)
            }))
            : Effect.void
        )
      )

    const noteHeard = (node: NodeInfo, kind: "response" | "query", now: number): Effect.Effect<void> => {
      const result = Table.heard(table, node, kind, now)
      table = result.table
      return Effect.forEach(result.ping, (entry) => {
        const key = idKey(entry.id)
        if (pinging.has(key)) return Effect.void
        pinging.add(key)
        return query(entry.address, { method: "ping" }, entry.id).pipe(
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => pinging.delete(key))),
          (ping) => FiberSet.run(background, ping)
        )
      }, { discard: true })
    }

    return {
      family,
      table: () => table,
      update: (f) => {
        table = f(table)
      },
      query,
      noteHeard,
      closest: (target, now) => Table.closest(table, target, Table.K, now)
    }
  })
