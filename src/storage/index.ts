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
 *   validated metainfo, capped by `maxPieceLength`), hashed incrementally as they arrive in
 *   order, verified once complete, then written whole. Verified data is never overwritten.
 * - At most `maxPartialPieces` pieces (and `maxPartialBytes`) are assembled at once; a block
 *   starting another piece gets `Backpressure` (nothing stored) rather than waiting, so a peer
 *   fiber is never parked inside storage. The picker should also bound its open pieces.
 * - Opening trusts the resume record only if every file's size and mtime match it; otherwise
 *   every piece present on disk is re-hashed, one piece at a time.
 * - Layers: `FileStorage.layer` (real files), `MemoryStorage.layer` (in memory, for the simulator).
 */
export { StorageError, type StorageErrorReason } from "./errors.ts"
export { FileStorage } from "./file-storage.ts"
export { makeMemoryStorage, MemoryStorage } from "./memory-storage.ts"
export { Storage } from "./service.ts"
export type { OpenOptions, PutResult, RecheckProgress, TorrentStorage } from "./types.ts"
