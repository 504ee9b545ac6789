import { Schema } from "effect"
import type { StorageErrorReason } from "../storage/index.ts"

/**
 * Why a torrent could not open or stopped working.
 * - `Unsupported`: a torrent this client cannot download yet (v2-only);
 * - `BadTorrent`: its metainfo describes no usable layout (bad geometry, files storage refuses);
 * - `Storage`: its storage failed (disk full, permission denied, …);
 * - `InvalidArgument`: a call the torrent cannot honour (priorities for the wrong number of files);
 * - `Removed`: it was removed while something waited on it.
 */
export const TorrentErrorReason = Schema.Literals(["Unsupported", "BadTorrent", "Storage", "InvalidArgument", "Removed"])
export type TorrentErrorReason = typeof TorrentErrorReason.Type

/**
 * The typed failure of a torrent: it could not open, it stopped (`whenComplete` fails with
 * it), or a call on it was refused; `reason` says which (`TorrentErrorReason`), `message`
 * the detail.
 */
export class TorrentError extends Schema.TaggedError<TorrentError>()("TorrentError", {
  infoHash: Schema.String,
  reason: TorrentErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** What a storage that cannot open says about the torrent: its fault, our limit, or the disk's. */
export const openFailure = (reason: StorageErrorReason): TorrentErrorReason =>
  reason === "Unsupported" ? "Unsupported" : reason === "InvalidMetainfo" || reason === "PathEscape" ? "BadTorrent" : "Storage"
