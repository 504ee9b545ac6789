import { Schema } from "effect"

export const MetainfoErrorReason = Schema.Literals([
  "InvalidBencode",
  "NotADict",
  "InvalidInfo",
  "UnsupportedVersion",
  "NonCanonical",
  "InvalidName",
  "InvalidPieceLength",
  "InvalidPieces",
  "PieceCountMismatch",
  "InvalidLength",
  "EmptyTorrent",
  "NoFiles",
  "InvalidPath",
  "PathConflict",
  "InvalidFileTree",
  "InvalidPiecesRoot",
  "InvalidPieceLayer",
  "HybridMismatch",
  "LimitExceeded"
])
export type MetainfoErrorReason = typeof MetainfoErrorReason.Type

/**
 * A .torrent file or info dict that cannot be used, with a `reason` to act on (bad bencode,
 * a missing or malformed field, an unsupported or oversized torrent, ...) and a one-line
 * `message` fit for a user.
 */
export class MetainfoError extends Schema.TaggedError<MetainfoError>()("MetainfoError", {
  reason: MetainfoErrorReason,
  message: Schema.String
}) {}

export const MagnetErrorReason = Schema.Literals([
  "NotAMagnet",
  "MalformedEncoding",
  "MissingInfoHash",
  "InvalidInfoHash",
  "ConflictingInfoHash",
  "InvalidSelectOnly",
  "LimitExceeded"
])
export type MagnetErrorReason = typeof MagnetErrorReason.Type

/** A magnet URI that cannot be used: no info-hash, a malformed one, conflicting hashes, ... (`reason`, one-line `message`). */
export class MagnetError extends Schema.TaggedError<MagnetError>()("MagnetError", {
  reason: MagnetErrorReason,
  message: Schema.String
}) {}
