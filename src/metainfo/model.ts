/**
 * The shape of a parsed torrent, shared by every service.
 *
 * Invariants (enforced by the parser, relied on everywhere else):
 * - `pieceLength` is a positive integer; for v2/hybrid it is a power of two >= 16 KiB.
 * - `files` are in v1 order (the order of the info dict's `files` list, or the
 *   file tree's order for pure v2); `offset` is the file's first byte in the
 *   concatenated torrent payload, so `files[i].offset + files[i].length === files[i+1].offset`.
 * - `totalSize === sum(files.length)` (padding files included) and
 *   `pieceCount === ceil(totalSize / pieceLength)` for v1 and hybrid torrents.
 * - `pieces.length === 20 * pieceCount` for v1/hybrid, 0 for pure v2.
 * - every `path` component is sanitised: never "", ".", "..", and never contains "/" or "\0".
 *
 * Pure v2: BEP 52 pieces never span files, so the parser adds the padding a hybrid lists
 * explicitly (a padding file after every file that does not end on a piece boundary, the
 * last one included, as libtorrent does): offsets stay contiguous as above, every piece is
 * full-sized, and `pieceCount === ceil(totalSize / pieceLength) ===
 * sum(ceil(length / pieceLength))` over the real files (see `v2PieceRanges`). The one
 * geometry serves v1, v2 and hybrid alike; `wireInfoHash` names the torrent on the wire.
 *
 * `MetainfoSchema` (below) describes the same shape as a Schema.
 */
import { Schema } from "effect"

export type TorrentVersion = "v1" | "v2" | "hybrid"

/**
 * One file of a torrent, in payload order.
 *
 * **Details**
 *
 * `path` is already sanitised (it cannot leave the download directory) and, for a multi-file
 * torrent, starts with the torrent's name. Padding files (BEP 47) take room in the payload's
 * byte space but are never written; symlinks carry their target in `symlinkPath`.
 */
export interface TorrentFile {
  /** Path components relative to the download directory. For multi-file torrents the first component is the torrent name. */
  readonly path: ReadonlyArray<string>
  readonly length: number
  /** Byte offset of the file's first byte in the concatenated payload. */
  readonly offset: number
  /** BEP 47 padding file (attr contains "p"): counted in offsets, never written to disk. */
  readonly padding: boolean
  /** BEP 47 attr string: "" when absent. */
  readonly attr: string
  /** BEP 52 pieces root (32 bytes), present for v2/hybrid files longer than 0. */
  readonly piecesRoot: Uint8Array | null
  /**
   * BEP 47 symlink (attr contains "l"): the sanitised target, relative to the
   * download directory like `path` (so it starts with the torrent name for
   * multi-file torrents). Never written as a regular file. BEP 47 says its
   * length is 0; a torrent that declares a length anyway still has those bytes
   * in the payload (piece hashes cover them): treat them like padding.
   * Absent for regular files.
   */
  readonly symlinkPath?: ReadonlyArray<string>
}

/**
 * A parsed torrent: what `parseMetainfo` returns and what `Client.add`, `Storage.open` and
 * the simulator take.
 *
 * **When to use**
 *
 * Read a torrent's facts (name, size, files, trackers, hashes) without starting anything;
 * pass it to `Client.add` to download or seed it. Build one with `parseMetainfo` (a .torrent
 * file), `parseInfoDict` (an info dict fetched for a magnet link) or `createTorrent`.
 *
 * **Details**
 *
 * v1, v2 (BEP 52) and hybrid torrents share this shape; the module header of
 * `metainfo/model.ts` lists the invariants the parser guarantees (offsets, piece counts,
 * sanitised paths). The info-hashes are taken over the info dict's bytes exactly as they were
 * in the file, so an unusual but valid encoding keeps its identity.
 *
 * **Example**
 *
 * ```ts
 * const meta = yield* parseMetainfo(bytes)
 * console.log(meta.name, meta.totalSize, meta.files.map((f) => f.path.join("/")))
 * ```
 */
export interface Metainfo {
  readonly version: TorrentVersion
  /** SHA-1 over the raw info-dict bytes (20 bytes); null for pure v2. */
  readonly infoHash: Uint8Array | null
  /** SHA-256 over the raw info-dict bytes (32 bytes); null for pure v1. */
  readonly infoHashV2: Uint8Array | null
  /** The info dict exactly as it appeared in the file (needed for BEP 9 metadata exchange). */
  readonly infoBytes: Uint8Array
  readonly name: string
  readonly pieceLength: number
  readonly pieceCount: number
  /** Concatenated 20-byte SHA-1 piece hashes (v1/hybrid). */
  readonly pieces: Uint8Array
  readonly files: ReadonlyArray<TorrentFile>
  readonly totalSize: number
  /** True when the info dict has a `files` list (or a v2 file tree with more than one entry / a directory). */
  readonly multiFile: boolean
  /** Announce tiers (BEP 12); a lone `announce` becomes one tier of one URL. */
  readonly trackers: ReadonlyArray<ReadonlyArray<string>>
  /** BEP 19 url-list. */
  readonly webSeeds: ReadonlyArray<string>
  /** BEP 17 httpseeds; absent when the torrent lists none. */
  readonly httpSeeds?: ReadonlyArray<string>
  readonly private: boolean
  /** Seconds since the epoch, or null. */
  readonly creationDate: number | null
  readonly comment: string | null
  readonly createdBy: string | null
  /** BEP 52 piece layers keyed by hex pieces root; validated against the root. Empty when absent. */
  readonly pieceLayers: ReadonlyMap<string, Uint8Array>
}

export const TorrentVersionSchema = Schema.Literals(["v1", "v2", "hybrid"])

export const TorrentFileSchema = Schema.Struct({
  path: Schema.Array(Schema.String),
  length: Schema.Number,
  offset: Schema.Number,
  padding: Schema.Boolean,
  attr: Schema.String,
  piecesRoot: Schema.NullOr(Schema.Uint8Array),
  symlinkPath: Schema.optionalKey(Schema.Array(Schema.String))
})

/** Schema of `Metainfo` (type-side only: values are built by the parser, not decoded from JSON). */
export const MetainfoSchema = Schema.Struct({
  version: TorrentVersionSchema,
  infoHash: Schema.NullOr(Schema.Uint8Array),
  infoHashV2: Schema.NullOr(Schema.Uint8Array),
  infoBytes: Schema.Uint8Array,
  name: Schema.String,
  pieceLength: Schema.Number,
  pieceCount: Schema.Number,
  pieces: Schema.Uint8Array,
  files: Schema.Array(TorrentFileSchema),
  totalSize: Schema.Number,
  multiFile: Schema.Boolean,
  trackers: Schema.Array(Schema.Array(Schema.String)),
  webSeeds: Schema.Array(Schema.String),
  httpSeeds: Schema.optionalKey(Schema.Array(Schema.String)),
  private: Schema.Boolean,
  creationDate: Schema.NullOr(Schema.Number),
  comment: Schema.NullOr(Schema.String),
  createdBy: Schema.NullOr(Schema.String),
  pieceLayers: Schema.ReadonlyMap(Schema.String, Schema.Uint8Array)
})

// The interfaces above stay the documented source of truth; these lines fail
// to compile if the Schema drifts from them.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const schemaMatchesFile: Same<typeof TorrentFileSchema.Type, TorrentFile> = true
const schemaMatchesMetainfo: Same<typeof MetainfoSchema.Type, Metainfo> = true
export const _schemaChecks = [schemaMatchesFile, schemaMatchesMetainfo] as const
