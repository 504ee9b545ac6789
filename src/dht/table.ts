/**
 * The routing table (BEP 5), as immutable data and pure functions; the node
 * holds it in a Ref and feeds it events (a node answered, queried us, failed).
 *
 * Layout: bucket `i` (for i < last) holds the nodes whose id shares exactly
 * `i` leading bits with our id; the last bucket holds everything closer
 * (>= last shared bits) and is the only one that ever splits, so the table is
 * the classic "split only the bucket containing our own id" tree flattened
 * into a list. Invariants (checked by test/dht-table.test.ts):
 * - at most K nodes and K replacements per bucket;
 * - every node sits in the bucket its common prefix with our id selects;
 * - our own id is never stored; an id is stored at most once;
 * - at most 160 buckets;
 * - every address is of the table's family: BEP 32 keeps two independent DHTs, so a node
 *   runs one table per family (the same code, `family` a parameter).
 */
import type { Address } from "../net/index.ts"
import { type Family, familyOf, type NodeInfo } from "./compact.ts"
import { bytesEqual } from "../bytes.ts"
import { commonPrefixLength, compareDistance, ID_BITS, idWithPrefix } from "./id.ts"

export const K = 8
/** BEP 5: a node with no activity for 15 minutes becomes questionable; buckets refresh after 15 minutes. */
export const QUESTIONABLE_AFTER_MILLIS = 15 * 60_000
/** Consecutive unanswered queries that make a node bad. */
export const MAX_FAILURES = 2

export interface NodeEntry {
  readonly id: Uint8Array
  readonly address: Address
  /** When it last answered one of our queries (ms), -1 if never. */
  readonly lastResponse: number
  /** When it last sent us a query (ms), -1 if never. */
  readonly lastQuery: number
  /** Consecutive queries it left unanswered. */
  readonly failures: number
}

export type Liveness = "good" | "questionable" | "bad"

export interface Bucket {
  readonly nodes: ReadonlyArray<NodeEntry>
  /** Candidates waiting for a slot, most recently heard last. */
  readonly replacements: ReadonlyArray<NodeEntry>
  readonly lastChanged: number
}

export interface RoutingTable {
  readonly ownId: Uint8Array
  /** The DHT this table belongs to: 4 holds only IPv4 nodes, 6 only IPv6 ones. */
  readonly family: Family
  readonly buckets: ReadonlyArray<Bucket>
}

export const empty = (ownId: Uint8Array, now: number, family: Family = 4): RoutingTable => ({
  ownId,
  family,
  buckets: [{ nodes: [], replacements: [], lastChanged: now }]
})

export const liveness = (node: NodeEntry, now: number): Liveness => {
  if (node.failures >= MAX_FAILURES) return "bad"
  if (node.lastResponse < 0) return "questionable"
  if (now - node.lastResponse < QUESTIONABLE_AFTER_MILLIS) return "good"
  if (node.lastQuery >= 0 && now - node.lastQuery < QUESTIONABLE_AFTER_MILLIS) return "good"
  return "questionable"
}

export const bucketIndex = (table: RoutingTable, id: Uint8Array): number =>
  Math.min(commonPrefixLength(table.ownId, id), table.buckets.length - 1)

const setBucket = (table: RoutingTable, index: number, bucket: Bucket): RoutingTable => {
  const buckets = table.buckets.slice()
  buckets[index] = bucket
  return { ...table, buckets }
}

const splitLast = (table: RoutingTable): RoutingTable => {
  const index = table.buckets.length - 1
  const last = table.buckets[index]
  if (last === undefined) return table
  const far = (n: NodeEntry) => commonPrefixLength(table.ownId, n.id) === index
  const lower: Bucket = {
    nodes: last.nodes.filter(far),
    replacements: last.replacements.filter(far),
    lastChanged: last.lastChanged
  }
  const upper: Bucket = {
    nodes: last.nodes.filter((n) => !far(n)),
    replacements: last.replacements.filter((n) => !far(n)),
    lastChanged: last.lastChanged
  }
  return { ...table, buckets: [...table.buckets.slice(0, index), lower, upper] }
}

const pushReplacement = (replacements: ReadonlyArray<NodeEntry>, entry: NodeEntry) => {
  const rest = replacements.filter((r) => !bytesEqual(r.id, entry.id))
  rest.push(entry)
  return rest.length > K ? rest.slice(rest.length - K) : rest
}

export interface Heard {
  readonly table: RoutingTable
  /** Questionable nodes of a full bucket the caller should ping; unanswered pings make room. */
  readonly ping: ReadonlyArray<NodeEntry>
}

/**
 * `node` answered our query (`"response"`) or sent us one (`"query"`).
 * A known id at a new address is ignored: BEP 5 keeps the first address, so a
 * spoofer cannot hijack a slot. A node of the other family is not this table's business.
 */
export const heard = (table: RoutingTable, node: NodeInfo, kind: "response" | "query", now: number): Heard => {
  if (bytesEqual(node.id, table.ownId) || familyOf(node.address) !== table.family) return { table, ping: [] }
  const touch = (e: NodeEntry): NodeEntry =>
    kind === "response"
      ? { ...e, lastResponse: now, failures: 0 }
      : { ...e, lastQuery: now }
  let current = table
  for (let guard = 0; guard <= ID_BITS; guard++) {
    const index = bucketIndex(current, node.id)
    const bucket = current.buckets[index]
    if (bucket === undefined) break
    const at = bucket.nodes.findIndex((e) => bytesEqual(e.id, node.id))
    if (at >= 0) {
      const existing = bucket.nodes[at]
      if (existing === undefined || existing.address.host !== node.address.host || existing.address.port !== node.address.port) {
        return { table: current, ping: [] }
      }
      const nodes = bucket.nodes.slice()
      nodes[at] = touch(existing)
      return { table: setBucket(current, index, { ...bucket, nodes, lastChanged: now }), ping: [] }
    }
    const fresh: NodeEntry = touch({ id: node.id, address: node.address, lastResponse: -1, lastQuery: -1, failures: 0 })
    if (bucket.nodes.length < K) {
      const replacements = bucket.replacements.filter((r) => !bytesEqual(r.id, node.id))
      return {
        table: setBucket(current, index, { nodes: [...bucket.nodes, fresh], replacements, lastChanged: now }),
        ping: []
      }
    }
    const bad = bucket.nodes.findIndex((e) => liveness(e, now) === "bad")
    if (bad >= 0) {
      const nodes = bucket.nodes.slice()
      nodes[bad] = fresh
      return { table: setBucket(current, index, { ...bucket, nodes, lastChanged: now }), ping: [] }
    }
    if (index === current.buckets.length - 1 && current.buckets.length < ID_BITS) {
      current = splitLast(current)
      continue
    }
    const replacements = pushReplacement(bucket.replacements, fresh)
    return {
      table: setBucket(current, index, { ...bucket, replacements }),
      ping: bucket.nodes.filter((e) => liveness(e, now) === "questionable")
    }
  }
  return { table: current, ping: [] }
}

/**
 * A query to `id` went unanswered. Once the node is bad, the freshest
 * replacement candidate (if any) takes its slot.
 */
export const failed = (table: RoutingTable, id: Uint8Array, now: number): RoutingTable => {
  const index = bucketIndex(table, id)
  const bucket = table.buckets[index]
  if (bucket === undefined) return table
  const at = bucket.nodes.findIndex((e) => bytesEqual(e.id, id))
  const existing = bucket.nodes[at]
  if (existing === undefined) {
    const replacements = bucket.replacements.filter((r) => !bytesEqual(r.id, id))
    return replacements.length === bucket.replacements.length ? table : setBucket(table, index, { ...bucket, replacements })
  }
  const updated = { ...existing, failures: existing.failures + 1 }
  const nodes = bucket.nodes.slice()
  const replacement = bucket.replacements[bucket.replacements.length - 1]
  if (liveness(updated, now) === "bad" && replacement !== undefined) {
    nodes[at] = replacement
    return setBucket(table, index, { nodes, replacements: bucket.replacements.slice(0, -1), lastChanged: now })
  }
  nodes[at] = updated
  return setBucket(table, index, { ...bucket, nodes })
}

export const allNodes = (table: RoutingTable): ReadonlyArray<NodeEntry> => table.buckets.flatMap((b) => b.nodes)

export const size = (table: RoutingTable): number => table.buckets.reduce((n, b) => n + b.nodes.length, 0)

export const find = (table: RoutingTable, id: Uint8Array): NodeEntry | undefined =>
  table.buckets[bucketIndex(table, id)]?.nodes.find((e) => bytesEqual(e.id, id))

/** The `count` non-bad nodes closest to `target` by XOR distance, closest first. */
export const closest = (table: RoutingTable, target: Uint8Array, count: number, now: number): ReadonlyArray<NodeEntry> =>
  allNodes(table)
    .filter((e) => liveness(e, now) !== "bad")
    .sort((a, b) => compareDistance(target, a.id, b.id))
    .slice(0, count)

/** Buckets nobody touched for 15 minutes: they need a refresh lookup. */
export const staleBuckets = (table: RoutingTable, now: number): ReadonlyArray<number> => {
  const out: Array<number> = []
  table.buckets.forEach((b, i) => {
    if (now - b.lastChanged >= QUESTIONABLE_AFTER_MILLIS) out.push(i)
  })
  return out
}

/** An id that falls in bucket `index` (the rest of its bits from `noise`). */
export const idInBucket = (table: RoutingTable, index: number, noise: Uint8Array): Uint8Array =>
  idWithPrefix(table.ownId, index, index < table.buckets.length - 1, noise)

/** Marks bucket `index` as refreshed (a lookup into it just ran). */
export const touchBucket = (table: RoutingTable, index: number, now: number): RoutingTable => {
  const bucket = table.buckets[index]
  return bucket === undefined ? table : setBucket(table, index, { ...bucket, lastChanged: now })
}
