/**
 * What the daemon's JSON API speaks: every shape is a Schema, so requests are validated,
 * responses encoded and the OpenAPI document generated from the same definitions.
 */
import { Schema } from "effect"
import { INFO_HASH_TEXT } from "../ids.ts"

export const InfoHash = Schema.String.check(Schema.isPattern(INFO_HASH_TEXT)).annotate({
  description: "v1 info-hash, 40 hex characters"
})

/**
 * `metadata`: a magnet fetching its info dict from peers; `pieceLayers`: a v2 torrent (or
 * hybrid) fetching the piece layers its .torrent or link did not carry. Both come before
 * `checking`; `fetch` tells how far they are.
 */
export const Status = Schema.Literals(["metadata", "pieceLayers", "checking", "downloading", "seeding", "paused", "error"])
export type Status = typeof Status.Type

/** How far the fetch before a torrent opens has come (status `metadata` or `pieceLayers`). */
export const FetchProgress = Schema.Struct({
  /** Peers open (handshake done) and being asked. */
  peers: Schema.Int,
  /** `metadata`: bytes of the info dict received; `pieceLayers`: files whose layer is whole. */
  done: Schema.Number,
  /** `metadata`: the info dict's size, 0 while no peer told it; `pieceLayers`: files whose layer is fetched. */
  total: Schema.Number
})
export type FetchProgress = typeof FetchProgress.Type

/** Bytes per second; null = unlimited. */
export const Rate = Schema.NullOr(Schema.Number.check(Schema.isGreaterThanOrEqualTo(0)))

export const TorrentSummary = Schema.Struct({
  id: Schema.Int,
  infoHash: Schema.String,
  name: Schema.String,
  status: Status,
  /** While `status` is `metadata` or `pieceLayers`: that fetch's progress; null otherwise. */
  fetch: Schema.NullOr(FetchProgress),
  /** 0..1 of the selected files. */
  progress: Schema.Number,
  /** Bytes of the selected files. */
  wantedBytes: Schema.Number,
  totalSize: Schema.Number,
  verifiedBytes: Schema.Number,
  downloadRate: Schema.Number,
  uploadRate: Schema.Number,
  downloaded: Schema.Number,
  uploaded: Schema.Number,
  peers: Schema.Int,
  seeds: Schema.Int,
  /** Seconds, or null when unknown or complete. */
  eta: Schema.NullOr(Schema.Number),
  error: Schema.NullOr(Schema.String),
  directory: Schema.String,
  addedAt: Schema.Number,
  pieceCount: Schema.Int,
  piecesVerified: Schema.Int,
  uploadLimit: Rate,
  downloadLimit: Rate,
  /** The per-torrent trace switch. */
  trace: Schema.Boolean
})
export type TorrentSummary = typeof TorrentSummary.Type

export const Priority = Schema.Literals([0, 1, 2]).annotate({ description: "0 = skip, 1 = normal, 2 = high" })

export const FileView = Schema.Struct({
  index: Schema.Int,
  path: Schema.String,
  length: Schema.Number,
  /** Verified bytes. */
  completed: Schema.Number,
  priority: Priority
})
export type FileView = typeof FileView.Type

export const PeerView = Schema.Struct({
  address: Schema.String,
  client: Schema.String,
  transport: Schema.String,
  encryption: Schema.String,
  downloadRate: Schema.Number,
  uploadRate: Schema.Number,
  downloaded: Schema.Number,
  uploaded: Schema.Number,
  /** 0..1 of the pieces the peer has. */
  progress: Schema.Number,
  isSeed: Schema.Boolean,
  peerChoking: Schema.Boolean,
  amChoking: Schema.Boolean,
  peerInterested: Schema.Boolean,
  amInterested: Schema.Boolean
})
export type PeerView = typeof PeerView.Type

export const TrackerView = Schema.Struct({
  url: Schema.String,
  ok: Schema.Boolean,
  peers: Schema.Int,
  message: Schema.NullOr(Schema.String)
})

export const TorrentDetail = Schema.Struct({
  ...TorrentSummary.fields,
  files: Schema.Array(FileView),
  trackers: Schema.Array(TrackerView),
  /** Verified pieces as a BEP 3 bitfield, base64. */
  pieces: Schema.String
})
export type TorrentDetail = typeof TorrentDetail.Type

export const AddRequest = Schema.Struct({
  /** A magnet link. */
  magnet: Schema.optional(Schema.String),
  /** An http(s) URL of a .torrent file. */
  url: Schema.optional(Schema.String),
  /** The .torrent file, base64. */
  torrent: Schema.optional(Schema.String),
  paused: Schema.optional(Schema.Boolean),
  /** Indices of the files to download (default all). */
  files: Schema.optional(Schema.Array(Schema.Int)),
  /** Trace the wire into the state directory (GET /api/torrents/{infoHash}/trace reads it). */
  trace: Schema.optional(Schema.Boolean)
}).annotate({ description: "exactly one of magnet, url, torrent" })
export type AddRequest = typeof AddRequest.Type

export const TraceRequest = Schema.Struct({ enabled: Schema.Boolean })

export const FilesRequest = Schema.Struct({
  /** One priority per file, or a map of changes by file index. */
  priorities: Schema.Union([Schema.Array(Priority), Schema.Record(Schema.String, Priority)])
})

export const Limits = Schema.Struct({ upload: Rate, download: Rate })
export const LimitsPatch = Schema.Struct({ upload: Schema.optional(Rate), download: Schema.optional(Rate) })

export const Session = Schema.Struct({
  version: Schema.String,
  peerPort: Schema.NullOr(Schema.Int),
  downloadDirectory: Schema.String,
  limits: Limits,
  downloadRate: Schema.Number,
  uploadRate: Schema.Number,
  torrents: Schema.Int
})
