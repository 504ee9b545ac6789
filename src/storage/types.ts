import type { Effect } from "effect"
import type { PieceIndex } from "../ids.ts"
import type { StorageError } from "./errors.ts"

/**
 * What `putBlock` did with a block.
 * - `Incomplete`: stored; the piece still misses blocks.
 * - `Verified`: this block completed the piece, its SHA-1 matched and it is written to storage.
 * - `HashFailed`: this block completed the piece but the SHA-1 did not match; the whole piece was discarded.
 *   `data` holds its bytes as received (the caller's to keep: the smart ban compares them with the piece that verifies).
 * - `Duplicate`: nothing new (every byte already received, or the piece is already verified / being written).
 * - `Backpressure`: the block starts a new piece but `maxPartialPieces` pieces are already being assembled;
 *   nothing was stored. Finish or `discardPartial` a piece, then request the block again.
 * - `Unwanted`: the piece overlaps no wanted file; nothing was stored.
 */
export type PutResult =
  | { readonly _tag: "Incomplete" }
  | { readonly _tag: "Verified" }
  | { readonly _tag: "HashFailed"; readonly data?: Uint8Array }
  | { readonly _tag: "Duplicate" }
  | { readonly _tag: "Backpressure" }
  | { readonly _tag: "Unwanted" }

export interface RecheckProgress {
  readonly checked: number
  readonly total: number
  readonly verified: number
}

export interface OpenOptions {
  /** Download directory; created if missing. Every file of the torrent stays inside it. */
  readonly directory: string
  /** Per file (same order as `Metainfo.files`): false = do not download. Default: all wanted. */
  readonly wanted?: ReadonlyArray<boolean>
  /** Pieces assembled at once (each holds one piece-sized buffer). Default 64. */
  readonly maxPartialPieces?: number
  /** Bytes of partial-piece buffers; lowers `maxPartialPieces` for big pieces (never below 1). Default 128 MiB. */
  readonly maxPartialBytes?: number
  /** Read cache for seeding, in bytes (whole verified pieces, LRU). Default 8 MiB; 0 disables. */
  readonly readCacheBytes?: number
  /** Block unit: blocks start at multiples of it and cover whole units (or end at the piece end). Default 16 KiB. */
  readonly blockSize?: number
  /** Largest piece length accepted from a torrent. Default 64 MiB. */
  readonly maxPieceLength?: number
  /** FileStorage only: where the resume record is kept. Default `<directory>/.effect-torrent`. */
  readonly resumeDirectory?: string
  /** FileStorage only: file handles kept open at once. Default 64. */
  readonly maxOpenFiles?: number
  /** Called after each piece of the recheck done when opening without a trusted resume file. */
  readonly onRecheckProgress?: (progress: RecheckProgress) => Effect.Effect<void>
}

/** One opened torrent's data. All methods are safe to call from many fibers at once. */
export interface TorrentStorage {
  readonly pieceCount: number
  /** Adds a block of a piece (see `PutResult`). Fails `OutOfRange` for a bad piece/begin/length or misaligned block. */
  readonly putBlock: (piece: PieceIndex, begin: number, data: Uint8Array) => Effect.Effect<PutResult, StorageError>
  /**
   * The fast path of `putBlock`: the block is stored (or refused) synchronously and the result
   * returned. With a backend that writes in memory this covers the block that completes its
   * piece too (verified and stored here); otherwise `undefined` means nothing was done: use
   * `putBlock` (the block may complete the piece, is invalid, or storage is closed).
   */
  readonly putBlockSync: (piece: PieceIndex, begin: number, data: Uint8Array) => PutResult | undefined
  /**
   * Bytes of a verified piece (fails `NotVerified` otherwise). The result may be a view into a
   * cached or in-memory piece buffer: callers must not modify it.
   */
  readonly read: (piece: PieceIndex, begin: number, length: number) => Effect.Effect<Uint8Array, StorageError>
  /**
   * `read` for bytes available without I/O (read cache, in-memory backends): the block, or
   * `undefined` when `read` must be used (not in memory, not verified, invalid, closed).
   */
  readonly readSync: (piece: PieceIndex, begin: number, length: number) => Uint8Array | undefined
  /**
   * `read` for bytes handed to a socket write: the buffer behind the view is not reused (the
   * read cache pools its piece buffers) until `release(view)`. Never released: never reused.
   */
  readonly lend: (piece: PieceIndex, begin: number, length: number) => Effect.Effect<Uint8Array, StorageError>
  /** `readSync` for bytes handed to a socket write, like `lend`. */
  readonly lendSync: (piece: PieceIndex, begin: number, length: number) => Uint8Array | undefined
  /** A view from `lend`/`lendSync` was written and is no longer used; once per view. */
  readonly release: (view: Uint8Array) => void
  /**
   * The read that puts a verified piece into the read cache ahead of the requests for it (an
   * uploader's read-ahead: its blocks can then be lent without waiting), or undefined when
   * none is needed: cached, already being read, not verified, closed, or a backend that keeps
   * its pieces in memory. Run it in a fiber of its own; it never fails.
   */
  readonly prefetch: (piece: PieceIndex) => Effect.Effect<void> | undefined
  /**
   * True while complete pieces waiting for their hash check and disk write hold 8 MiB or more
   * (at least one piece): the caller should then store the next piece it completes
   * in its own step (its reader waits, TCP pushes back on the peer) rather than in the
   * background, so a disk slower than the network does not fill memory.
   */
  readonly writeBacklogged: () => boolean
  /** Synchronous query of the in-memory have set (false for out-of-range indices). */
  readonly hasPiece: (piece: PieceIndex) => boolean
  /** Snapshot of the have set as a BEP 3 bitfield. */
  readonly have: Effect.Effect<Uint8Array>
  readonly verifiedCount: Effect.Effect<number>
  /** Bytes of verified pieces that belong to real files (padding excluded). */
  readonly bytesVerified: Effect.Effect<number>
  /** Changes which files are wanted; partial pieces that become unwanted are dropped. */
  readonly setWanted: (wanted: ReadonlyArray<boolean>) => Effect.Effect<void, StorageError>
  /** Drops a partially assembled piece (e.g. the picker gave up on it), freeing its buffer. */
  readonly discardPartial: (piece: PieceIndex) => Effect.Effect<void>
  /** Re-hashes every piece present in storage and replaces the have set; returns the verified count. */
  readonly recheck: (
    onProgress?: (progress: RecheckProgress) => Effect.Effect<void>
  ) => Effect.Effect<number, StorageError>
  /** Persists the have set (FileStorage: flushes data first, then writes the resume file atomically). */
  readonly saveResume: Effect.Effect<void, StorageError>
  /** Waits for in-flight writes, saves resume data, releases files. Idempotent; also run when the scope closes. */
  readonly close: Effect.Effect<void, StorageError>
}
