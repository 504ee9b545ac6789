/**
 * effect-torrent: a BitTorrent client on Effect.
 *
 * - Effect users: `Client` (a service; `Client.layer(config)` on any Network/Storage,
 *   `layerNode(config)` on the real machine), torrent handles with `state`
 *   (a SubscriptionRef), `events` (a Stream), `pause`, `resume`, `whenComplete`.
 * - Everyone else: `createClient(config)`, a Promise facade.
 * - Building blocks: metainfo parsing and creation, magnet links, the Network and Storage
 *   services and their layers.
 */
export {
  type AddOptions,
  Client,
  type ClientConfig,
  ClientError,
  ClientErrorReason,
  type ClientRequirements,
  type ClientService,
  type DhtOptions,
  createClient,
  layerNode,
  type PromiseClient,
  type PromiseTorrent,
  type RateLimits,
  type TorrentSource
} from "./client/index.ts"
/** Branded names (type-only): a torrent's `InfoHash`, a `PieceIndex`, a peer's `PeerKey`. */
export { type InfoHash, infoHashOf, parseInfoHash, type PeerKey, peerKey, PieceIndex } from "./ids.ts"
export { createTorrent } from "./metainfo/create.ts"
export {
  formatMagnet,
  type Magnet,
  MagnetError,
  MetainfoError,
  parseInfoDict,
  parseMagnet,
  parseMetainfo
} from "./metainfo/index.ts"
export type { Metainfo, TorrentFile } from "./metainfo/model.ts"
export { type Address, type Connection, formatAddress, type NetError, Network, NodeNetwork, parseAddress } from "./net/index.ts"
export { FileStorage, MemoryStorage, PieceHasher, Storage, StorageError, type TorrentStorage } from "./storage/index.ts"
export {
  type FilePriority,
  type PeerSource,
  type StreamRange,
  type Torrent,
  type TorrentFileHandle,
  TorrentError,
  TorrentErrorReason,
  type TorrentEvent,
  type TorrentState,
  type TorrentStatus
} from "./torrent/index.ts"
