/**
 * Iterative lookup (BEP 5 / Kademlia): query the closest known nodes, ALPHA
 * at a time, learn closer ones from their answers, and stop once the K
 * closest nodes still standing have all answered (or nothing is left to ask).
 * Rounds are bounded and the candidate set is trimmed, so a hostile node
 * feeding endless fake ids cannot keep a lookup alive or grow its memory.
 */
import { Effect } from "effect"
import { type Address, formatAddress } from "../net/index.ts"
import type { Family, NodeInfo } from "./compact.ts"
import type { DhtQueryError } from "./errors.ts"
import { bytesEqual } from "../bytes.ts"
import { compareDistance, idKey } from "./id.ts"
import type { KrpcResponse, QueryBody } from "./krpc.ts"
import { K } from "./table.ts"

export const ALPHA = 3
const MAX_ROUNDS = 64
const MAX_CANDIDATES = 8 * K

export type Query = (
  address: Address,
  body: QueryBody,
  knownId: Uint8Array | undefined
) => Effect.Effect<KrpcResponse, DhtQueryError>

export interface Answered {
  readonly node: NodeInfo
  readonly token: Uint8Array | undefined
}

export interface LookupResult {
  /** The closest nodes that answered, closest first (at most K). */
  readonly closest: ReadonlyArray<Answered>
  /** Peers from get_peers `values`, de-duplicated. */
  readonly peers: ReadonlyArray<Address>
  readonly queried: number
  readonly responded: number
}

interface Candidate {
  readonly node: NodeInfo
  state: "new" | "asked" | "answered" | "failed"
  token: Uint8Array | undefined
}

export interface LookupOptions {
  readonly ownId: Uint8Array
  readonly target: Uint8Array
  readonly method: "find_node" | "get_peers"
  readonly seeds: ReadonlyArray<NodeInfo>
  /** Addresses whose id we do not know (bootstrap routers), asked in the first round. */
  readonly bootstrap: ReadonlyArray<Address>
  readonly query: Query
  /**
   * The DHT searched (BEP 32; default 4): queries carry `want` of this family only, so even
   * a router reached over the other family answers with nodes we can use, and only the
   * answer's list of this family (`nodes` or `nodes6`) feeds the search.
   */
  readonly family?: Family
}

export const lookup = Effect.fn("Dht.lookup")(function*(options: LookupOptions) {
  const { method, ownId, query, target } = options
  const family = options.family ?? 4
  const want = [family === 4 ? "n4" : "n6"] as const
  const body: QueryBody = method === "find_node" ? { method, target, want } : { method, infoHash: target, want }
  const candidates = new Map<string, Candidate>()
  const askedAddresses = new Set<string>()
  const peers = new Map<string, Address>()
  let queried = 0
  let responded = 0

  const learn = (node: NodeInfo) => {
    if (bytesEqual(node.id, ownId)) return
    const key = idKey(node.id)
    if (!candidates.has(key)) candidates.set(key, { node, state: "new", token: undefined })
  }
  const absorb = (r: KrpcResponse) => {
    responded++
    for (const n of family === 4 ? r.nodes : r.nodes6) learn(n)
    for (const p of r.values) peers.set(formatAddress(p), p)
  }
  const ranked = () =>
    [...candidates.values()]
      .filter((c) => c.state !== "failed")
      .sort((a, b) => compareDistance(target, a.node.id, b.node.id))

  for (const s of options.seeds) learn(s)

  // bootstrap routers: their ids come with their answers
  yield* Effect.forEach(options.bootstrap, (address) => {
    const key = formatAddress(address)
    if (askedAddresses.has(key)) return Effect.void
    askedAddresses.add(key)
    queried++
    return query(address, body, undefined).pipe(
      Effect.tap((r) =>
        Effect.sync(() => {
          absorb(r)
          if (!bytesEqual(r.id, ownId)) {
            candidates.set(idKey(r.id), { node: { id: r.id, address }, state: "answered", token: r.token })
          }
        })
      ),
      Effect.ignore
    )
  }, { concurrency: "unbounded", discard: true })

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const top = ranked().slice(0, K)
    const batch = top.filter((c) => c.state === "new").slice(0, ALPHA)
    if (batch.length === 0) break
    yield* Effect.forEach(batch, (c) => {
      c.state = "asked"
      const key = formatAddress(c.node.address)
      // one query per address: a node answering under many ids is asked once
      if (askedAddresses.has(key)) {
        c.state = "failed"
        return Effect.void
      }
      askedAddresses.add(key)
      queried++
      return query(c.node.address, body, c.node.id).pipe(
        Effect.matchEffect({
          onFailure: () => Effect.sync(() => { c.state = "failed" }),
          onSuccess: (r) =>
            Effect.sync(() => {
              if (!bytesEqual(r.id, c.node.id)) {
                c.state = "failed" // answered under another id: not the node we were told about
                return
              }
              c.state = "answered"
              c.token = r.token
              absorb(r)
            })
        })
      )
    }, { concurrency: ALPHA, discard: true })
    if (candidates.size > MAX_CANDIDATES) {
      const keep = ranked().slice(0, MAX_CANDIDATES)
      const keepKeys = new Set(keep.map((c) => idKey(c.node.id)))
      for (const key of [...candidates.keys()]) if (!keepKeys.has(key)) candidates.delete(key)
    }
  }

  const closest = ranked()
    .filter((c) => c.state === "answered")
    .slice(0, K)
    .map((c): Answered => ({ node: c.node, token: c.token }))
  return { closest, peers: [...peers.values()], queried, responded } satisfies LookupResult
})
