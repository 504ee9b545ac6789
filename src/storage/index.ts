/**
 * Storage: a torrent's pieces <-> its files.
 *
 * ```ts
 * const storage = yield* Storage
 * const torrent = yield* storage.open(meta, { directory: "downloads" }) // scoped: closed with the scope
 * const result = yield* torrent.putBlock(piece, begin, block) // Incomplete | Verified | HashFailed | Duplicate | Backpressure | Unwanted
 * const bytes = yield* torrent.read(piece, begin, length) // verified pieces only
 * ```
 *
 * - Blocks are assembled per piece in a buffer of exactly that piece's length (from the
 *   validated metainfo, capped by `maxPieceLength`), verified once complete, then written
 *   whole. Verified data is never overwritten. With a `PieceHasher` (`layerWithHasher`;
 *   hasher.ts, worker threads) complete pieces are hashed off the JS thread; without one
 *   (`layer`), blocks are hashed inline as they arrive in order.
 * - At most `maxPartialPieces` pieces (and `maxPartialBytes`) are assembled at once; a block
 *   starting another piece gets `Backpressure` (nothing stored) rather than waiting, so a peer
 *   fiber is never parked inside storage. The picker should also bound its open pieces.
 * - Opening trusts the resume record only if every file's size and mtime match it; otherwise
 *   every piece present on disk is re-hashed, one piece at a time.
 * - Blocks start at multiples of `blockSize` (16 KiB) and cover whole blocks, or end at the piece
 *   end (a whole piece in one call is fine); anything else is a typed `OutOfRange` error.
 * - `read` returns a view into a cached / in-memory verified piece: zero-copy, do not modify it.
 * - Layers: `FileStorage.layer` (real files, positional I/O, resume records in
 *   `<directory>/.effect-torrent/<infohash-hex>.resume`; needs a `FileSystem`) and `MemoryStorage.layer` (in memory,
 *   for the simulator; one buffer per verified piece, persists across open/close per layer build).
 *
 * Possible improvements: a libtorrent-style part file for bytes of unwanted files shared with
 * boundary pieces (today they are written into the unwanted file); reading the next piece of a
 * recheck while the hasher hashes this one; coalescing concurrent reads of the same uncached piece.
 */
export { deleteTorrentData } from "./delete.ts"
export { resolveInside } from "./layout.ts"
export { StorageError, type StorageErrorReason } from "./errors.ts"
export { FileStorage } from "./file-storage.ts"
export { allocateShared, type HashPool, makeHashPool, PieceHasher, type PieceHasherShape } from "./hasher.ts"
export { makeMemoryStorage, MemoryStorage } from "./memory-storage.ts"
export { hashFailures, pieceVerifySeconds } from "./metrics.ts"
export type { Backend } from "./backend.ts"
/** For storage layers outside this folder (the simulator's shared-content storage). */
export { type BackendInput, openWith, Storage } from "./service.ts"
export type { OpenOptions, PutResult, RecheckProgress, TorrentStorage } from "./types.ts"
