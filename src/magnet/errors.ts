import { Schema } from "effect"

/**
 * Why fetching a magnet link's metadata failed.
 * - `InvalidMagnet`: the magnet has no info-hash to ask peers for.
 * - `NoPeers`: every known address was tried and none gave us the metadata, and no peer
 *   source can bring more (or, at the deadline, no peer offering ut_metadata was ever found).
 * - `Timeout`: the deadline passed while peers offering the metadata were known.
 * - `InvalidMetadata`: metadata matching the info-hash is not a valid info dict (the
 *   torrent itself is broken: no other peer can send anything better).
 */
export const MagnetFetchErrorReason = Schema.Literals(["InvalidMagnet", "NoPeers", "Timeout", "InvalidMetadata"])
export type MagnetFetchErrorReason = typeof MagnetFetchErrorReason.Type

export class MagnetFetchError extends Schema.TaggedError<MagnetFetchError>()("MagnetFetchError", {
  reason: MagnetFetchErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot fetch the torrent's metadata: ${this.detail}`
  }
}

/** Why one peer was dropped (internal to a fetch; logged and summarised in `MagnetFetchError`). */
export class MetadataPeerDropped extends Schema.TaggedError<MetadataPeerDropped>()("MetadataPeerDropped", {
  peer: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `peer ${this.peer}: ${this.detail}`
  }
}
