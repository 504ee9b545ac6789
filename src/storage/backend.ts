import type { Effect } from "effect"
import type { StorageError } from "./errors.ts"

/** Reads a piece for verification: its bytes (padding zero-filled), or null when any real byte is absent. */
export type PieceReader = (piece: number, scratch: Uint8Array) => Effect.Effect<Uint8Array | null, StorageError>

/**
 * Where verified pieces live. The shared core (torrent-storage.ts) owns validation,
 * assembly, hashing, the have set and the read cache; a backend only moves whole,
 * already-verified pieces. The core guarantees: `writePiece` is called at most once per
 * piece at a time, only for verified data, never for a piece it already has; nothing is
 * called after `close` started.
 */
export interface Backend {
  /** Stores a verified piece. The buffer is handed over and never modified afterwards. */
  readonly writePiece: (piece: number, data: Uint8Array) => Effect.Effect<void, StorageError>
  /**
   * `writePiece` without an effect, for backends that keep pieces in memory (it cannot fail):
   * a completed piece is then verified and stored in the session's own step.
   */
  readonly writePieceSync?: (piece: number, data: Uint8Array) => void
  /** Like a `PieceReader` but allocates; used for seeding reads of pieces we have. */
  readonly readPiece: (piece: number) => Effect.Effect<Uint8Array | null, StorageError>
  /**
   * `readPiece` into the caller's buffer (exactly the piece's size; padding zero-filled): the
   * read cache then pools its buffers instead of allocating one per piece served.
   */
  readonly readPieceInto?: PieceReader
  /** `readPiece` without an effect, for backends whose pieces are in memory (no I/O): uploads skip a fiber hop. */
  readonly readPieceSync?: (piece: number) => Uint8Array | null
  /** Prepares a recheck (e.g. stats every file once) and returns the reader to use during it. */
  readonly beginRecheck: Effect.Effect<PieceReader, StorageError>
  /** A have set that may be trusted without hashing (valid resume data), or null. */
  readonly loadResume: Effect.Effect<Uint8Array | null, StorageError>
  /** Makes written data durable, then records `have` so the next open can trust it. */
  readonly saveResume: (have: Uint8Array) => Effect.Effect<void, StorageError>
  readonly close: Effect.Effect<void, StorageError>
  /** Whether seeding reads should go through the LRU piece cache (false when data already lives in memory). */
  readonly cacheReads: boolean
  /** Whether `writePiece` keeps the buffer (memory) or is done with it once written (files: it can be reused). */
  readonly retainsBuffers: boolean
  /**
   * false: `writePiece` only records that the piece is had and never looks at its bytes (a
   * simulation's backend serving one shared content), so the storage may keep blocks by
   * reference and hand it an empty buffer (see `PieceHasherShape.blocks`). Default true.
   */
  readonly storesBytes?: boolean
}
