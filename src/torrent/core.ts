/**
 * What the parts of one torrent share. torrent.ts builds it and wires the parts that act
 * on it, each testable on a core of its own: progress.ts (published state, completion,
 * the stopping error), bans.ts (the ban policy), link.ts (what peer sessions call) and
 * active.ts (the part `pause` ends and `resume` starts again).
 *
 * Plain handles and three mutable fields; JavaScript runs one fiber step at a time, so a
 * synchronous read or write of them is atomic.
 */
import type { Deferred, PubSub, Ref, SubscriptionRef } from "effect"
import type { InfoHash, PeerKey } from "../ids.ts"
import type { Metainfo } from "../metainfo/model.ts"
import type { PeerLink, RateMeter } from "../peer/index.ts"
import type { Picker } from "../scheduler/picker.ts"
import type { TorrentStorage } from "../storage/index.ts"
import type { TorrentTrace } from "../trace/recorder.ts"
import type { TorrentConfig } from "./config.ts"
import type { TorrentError } from "./errors.ts"
import type { FilePriority } from "./files.ts"
import type { PeerBook } from "./peer-book.ts"
import type { SmartBan } from "./smart-ban.ts"
import type { TorrentEvent, TorrentState, TorrentStatus, TrackerStatus } from "./state.ts"
import type { WebSeedSlots } from "./web-seeds.ts"

/** What the published side and the ban policy act on (progress.ts, bans.ts): all but the config, so each is testable alone. */
export interface TorrentShared {
  readonly meta: Metainfo
  /** The torrent's name for users and the client's map (hex of the wire info-hash). */
  readonly infoHash: InfoHash
  /** What the wire carries: the v1 info-hash, or the truncated SHA-256 of a pure v2 torrent (BEP 52). */
  readonly infoHashBytes: Uint8Array
  readonly storage: TorrentStorage
  readonly picker: Picker<PeerKey>
  /** Connected sessions by peer key. */
  readonly links: Map<string, PeerLink>
  readonly book: PeerBook
  /** Failed pieces waiting for their verdict (smart-ban.ts). */
  readonly smartBan: SmartBan<PeerKey>
  readonly webSeedSlots: WebSeedSlots
  readonly events: PubSub.PubSub<TorrentEvent>
  readonly state: SubscriptionRef.SubscriptionRef<TorrentState>
  readonly status: Ref.Ref<TorrentStatus>
  /** Succeeds once every wanted piece is verified; fails with the error that stopped the torrent. */
  readonly complete: Deferred.Deferred<void, TorrentError>
  readonly downloadMeter: RateMeter
  readonly uploadMeter: RateMeter
  readonly trackerStatus: Map<string, TrackerStatus>
  readonly trace: TorrentTrace | null
  /** The torrent's clock (virtual in the simulator), in milliseconds. */
  readonly now: () => number
  /** Per file: 0 = skip, 1 = normal, 2 = high (`setPriorities` changes them). */
  priorities: ReadonlyArray<FilePriority>
  /** Bytes of the files `priorities` selects, padding excluded. */
  wantedBytes: number
  /** The error that stopped the torrent, or null while it runs. */
  errorMessage: string | null
}

export interface TorrentCore extends TorrentShared {
  readonly config: TorrentConfig
}

export const wantedBytesOf = (meta: Metainfo, priorities: ReadonlyArray<FilePriority>): number =>
  meta.files.reduce((sum, f, i) => (f.padding || priorities[i] === 0 ? sum : sum + f.length), 0)

/** Every session should try to request again (blocks went back to the pool, priorities changed). */
export const wakeAll = (core: TorrentShared): void => {
  for (const l of core.links.values()) l.wake()
}
