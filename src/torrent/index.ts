/**
 * The per-torrent orchestrator: storage, picker, peer sessions, choker and peer
 * sources, publishing its state as a `SubscriptionRef` and its events as a `Stream`.
 */
export {
  type ConnectionBudget,
  makeConnectionBudget,
  type PeerSource,
  type SwarmHooks,
  type TorrentConfig
} from "./config.ts"
export { dialLoop, type DialPlan, type DialWake, makeDialWake } from "./dialler.ts"
export { TorrentError, TorrentErrorReason } from "./errors.ts"
export type { FilePriority, StreamRange, TorrentFileHandle } from "./files.ts"
export { type KnownAddress, makePeerBook, type Opening, type PeerBook } from "./peer-book.ts"
export { type OpenedPeer, openPeer, type OpenPeerDeps } from "./open-peer.ts"
export type { TorrentEvent, TorrentState, TorrentStatus, TrackerStatus } from "./state.ts"
export type { IncomingVia } from "./swarm.ts"
export { openTorrent, type Torrent } from "./torrent.ts"
