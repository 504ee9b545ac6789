import { Schema } from "effect"

/** Why a torrent stopped working: its storage failed (disk full, permission denied, …). */
export class TorrentError extends Schema.TaggedError<TorrentError>()("TorrentError", {
  infoHash: Schema.String,
  reason: Schema.Literals(["Storage", "Removed"]),
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}
