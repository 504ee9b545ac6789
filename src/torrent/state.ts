/**
 * What a torrent publishes: its state (a `SubscriptionRef`, replaced about once a
 * second and on every status change) and its events (a `PubSub`, one per happening).
 */
import type { InfoHash } from "../ids.ts"
import type { PeerErrorReason } from "../peer/index.ts"

/** Where a torrent is: checking existing data, downloading, seeding (everything wanted is verified), paused, or stopped by an error. */
export type TorrentStatus = "checking" | "downloading" | "seeding" | "paused" | "error"

export interface TrackerStatus {
  readonly url: string
  readonly ok: boolean
  readonly peers: number
  readonly message: string | null
}

/**
 * A torrent's published state (`Torrent.state`): progress, rates, peers, trackers. A snapshot,
 * replaced about once a second and on every status change; counters may trail the events by
 * up to that second.
 */
export interface TorrentState {
  readonly infoHash: InfoHash
  readonly name: string
  readonly status: TorrentStatus
  /** Bytes of wanted (selected) files, padding excluded. */
  readonly wantedBytes: number
  /** Verified bytes of real files. */
  readonly verifiedBytes: number
  /** 0..1 of the wanted pieces. */
  readonly progress: number
  readonly pieceCount: number
  readonly piecesVerified: number
  /** Payload bytes this session. */
  readonly downloaded: number
  readonly uploaded: number
  /** Bytes per second over the last few seconds. */
  readonly downloadRate: number
  readonly uploadRate: number
  readonly peers: number
  readonly seeds: number
  /** Known addresses not connected right now. */
  readonly candidates: number
  /** Seconds to completion at the current rate, or null when unknown or done. */
  readonly eta: number | null
  readonly error: string | null
  readonly trackers: ReadonlyArray<TrackerStatus>
}

/**
 * Something that happened to a torrent (`Torrent.events`), in order: peers connecting and
 * leaving (with why), bans, pieces verified or failing their hash check, peers discovered,
 * completion, errors, check progress. Subscribe before acting to miss nothing.
 */
export type TorrentEvent =
  | { readonly _tag: "CheckProgress"; readonly checked: number; readonly total: number }
  /** `encrypted`: the stream is RC4 (MSE/PE); false for plaintext, MSE-obfuscated or not. */
  | { readonly _tag: "PeerConnected"; readonly peer: string; readonly client: string; readonly encrypted: boolean }
  | {
    readonly _tag: "PeerDisconnected"
    readonly peer: string
    /** Why, as a category: Protocol, Handshake, Timeout, Banned, Network, Shutdown. */
    readonly kind: PeerErrorReason
    readonly reason: string
  }
  | { readonly _tag: "PeerBanned"; readonly peer: string; readonly reason: string }
  | { readonly _tag: "PieceVerified"; readonly piece: number }
  | { readonly _tag: "HashFailed"; readonly piece: number; readonly peers: ReadonlyArray<string> }
  | { readonly _tag: "PeersDiscovered"; readonly source: string; readonly count: number }
  | { readonly _tag: "Completed" }
  | { readonly _tag: "Error"; readonly message: string }
