/**
 * The BitTorrent DHT (BEP 5): a full node (answers queries, stores announced
 * peers) plus iterative lookups, and a peer source for torrents.
 */
export { type NodeInfo } from "./compact.ts"
export { DEFAULT_BOOTSTRAP, type DhtConfig } from "./config.ts"
export {
  DhtRemoteError,
  DhtSendError,
  DhtTimeout,
  type DhtQueryError,
  KrpcDecodeError,
  KrpcErrorReason
} from "./errors.ts"
export * as Krpc from "./krpc.ts"
export { type AnnounceResult, Dht, type DhtStats, layer, make } from "./node.ts"
export { dhtPeerSource, type DhtPeerSourceOptions } from "./peer-source.ts"
export type { RateLimit } from "./rate-limit.ts"
export * as RoutingTable from "./table.ts"
