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
 */
export type TorrentVersion = "v1" | "v2" | "hybrid"

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
}

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
  readonly private: boolean
  /** Seconds since the epoch, or null. */
  readonly creationDate: number | null
  readonly comment: string | null
  readonly createdBy: string | null
  /** BEP 52 piece layers keyed by hex pieces root; validated against the root. Empty when absent. */
  readonly pieceLayers: ReadonlyMap<string, Uint8Array>
}
