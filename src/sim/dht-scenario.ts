/**
 * A DHT of many plain nodes (our BEP 5 node) on the simulated network.
 *
 * ```ts
 * const world = yield* makeWorld({ seed: 1 })
 * const nodes = yield* startDhtSwarm(world, { nodes: 200, seed: 1 })
 * yield* advanceUntil({ done: () => false, deadlineMs: 60_000 }) // let them join
 * yield* nodes[17].dht.announce(infoHash, 6881)
 * ```
 *
 * Joining: node i (i > 0) bootstraps off `bootstrapOf(i)` (default: node ⌊(i-1)/2⌋ and
 * node i-1, a binary tree plus a chain), one node every `joinIntervalMs`, so every node
 * starts from one or two acquaintances and learns the rest by its own lookups and by
 * the queries of those who join after it, as in a real network.
 */
import { Effect, type Scope } from "effect"
import type { Dht } from "../dht/index.ts"
import { DHT_PORT, simNodeId, startDhtNode } from "./dht-hosts.ts"
import type { World } from "./world.ts"

/** Address of the i-th plain DHT node: 10.6.<i / 250>.<i % 250 + 1>. */
export const dhtAddressOf = (i: number): string => `10.6.${Math.floor(i / 250)}.${(i % 250) + 1}`

export interface DhtSwarmSpec {
  readonly nodes: number
  /** Node ids are SHA-1 of `${seed}/dht/${i}`. Default 1. */
  readonly seed?: string | number
  /** Indices of the nodes node i bootstraps off (each < i). */
  readonly bootstrapOf?: (i: number) => ReadonlyArray<number>
  /** Virtual ms between two nodes joining. Default 100. */
  readonly joinIntervalMs?: number
  /** Where node i lives. Default `dhtAddressOf`. */
  readonly addressOf?: (i: number) => string
}

export interface SimDhtNode {
  readonly index: number
  readonly address: string
  readonly id: Uint8Array
  /** Indices of the nodes it bootstrapped off. */
  readonly bootstrap: ReadonlyArray<number>
  readonly dht: Dht["Service"]
}

export const defaultBootstrapOf = (i: number): ReadonlyArray<number> =>
  i === 0 ? [] : [...new Set([Math.floor((i - 1) / 2), i - 1])]

/**
 * Starts the nodes one by one in the background (they live until the current scope
 * closes) and returns the list, which fills as they join: wait `nodes * joinIntervalMs`
 * of virtual time, plus time for the last lookups, before relying on all of them.
 */
export const startDhtSwarm = (
  world: World,
  spec: DhtSwarmSpec
): Effect.Effect<ReadonlyArray<SimDhtNode>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seed = spec.seed ?? 1
    const bootstrapOf = spec.bootstrapOf ?? defaultBootstrapOf
    const addressOf = spec.addressOf ?? dhtAddressOf
    const interval = spec.joinIntervalMs ?? 100
    const nodes: Array<SimDhtNode> = []
    const join = (i: number) =>
      Effect.gen(function*() {
        const bootstrap = bootstrapOf(i).filter((b) => b >= 0 && b < i)
        const address = addressOf(i)
        const id = simNodeId(`${seed}/dht/${i}`)
        const dht = yield* startDhtNode(world, {
          address,
          nodeId: id,
          bootstrap: bootstrap.map((b) => `${addressOf(b)}:${DHT_PORT}`)
        })
        nodes.push({ index: i, address, id, bootstrap, dht })
      })
    yield* Effect.forkScoped(Effect.forEach(
      Array.from({ length: spec.nodes }, (_, i) => i),
      (i) => (i === 0 ? join(i) : Effect.sleep(interval).pipe(Effect.andThen(join(i)))),
      { discard: true }
    ))
    return nodes
  })
