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

/** A .torrent / info dict that cannot be used. `message` is one line, fit for a user. */
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

export class MagnetError extends Schema.TaggedError<MagnetError>()("MagnetError", {
  reason: MagnetErrorReason,
  message: Schema.String
}) {}
