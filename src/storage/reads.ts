/**
 * Serving verified data: range checks, the LRU piece cache (for backends that read from
 * disk; in-memory ones serve their stored buffers directly), and noticing data that
 * vanished from disk.
 *
 * Piece buffers read from disk are pooled: allocating a fresh 1 MiB buffer per piece served
 * made garbage collection about a third of a seeder's CPU. A buffer goes back to the pool
 * only once nothing can still look at it: the cache dropped it, every view `lend` handed
 * out was given back through `release` (the outbox does so when the socket has written it),
 * and no view was handed out by `read`/`readSync`, whose holders never say when they are
 * done (such a buffer is left to the garbage collector). A view lent and never released
 * (a transport that cannot tell when it wrote) likewise keeps its buffer out of the pool.
 */
import { Deferred, Effect } from "effect"
import type { Backend } from "./backend.ts"
import { checkRead } from "./checks.ts"
import { StorageError } from "./errors.ts"
import * as Have from "./have.ts"
import { pieceSize } from "./layout.ts"
import { type Lru, makeLru } from "./lru.ts"
import { allocatePiece } from "./partial.ts"

export interface PieceReads {
  /** A view of verified bytes; fails `OutOfRange` or `NotVerified`. */
  readonly read: (piece: number, begin: number, length: number) => Effect.Effect<Uint8Array, StorageError>
  /** The bytes when no I/O is needed (cached, in memory), else undefined. */
  readonly readSync: (piece: number, begin: number, length: number) => Uint8Array | undefined
  /** `read` for a socket write: the view's buffer is not reused before `release(view)`. */
  readonly lend: (piece: number, begin: number, length: number) => Effect.Effect<Uint8Array, StorageError>
  /** `readSync` for a socket write, like `lend`. */
  readonly lendSync: (piece: number, begin: number, length: number) => Uint8Array | undefined
  /** A view from `lend`/`lendSync` is no longer used (written). Call once per view. */
  readonly release: (view: Uint8Array) => void
  /**
   * The read that puts a piece into the cache ahead of its requests, or undefined when none
   * is needed (cached, being read, not had, or a backend that does not read into the pool:
   * in memory, simulated). A `lend` of the
   * piece meanwhile waits for this read instead of starting its own.
   */
  readonly prefetch: (piece: number) => Effect.Effect<void> | undefined
  readonly cache: Lru<number, Uint8Array>
}

/** Who holds a piece just read: a lent view, a view never given back (`read`), or the cache alone (`prefetch`). */
type Holder = "lend" | "pin" | "cache"

/** A pooled piece buffer: whether the cache holds it, how many lent views are out, whether an unreturnable view is. */
interface Slot {
  readonly buffer: Uint8Array
  cached: boolean
  lent: number
  pinned: boolean
}

/** Free full-size buffers kept beside the cache (the cache itself holds `cacheBytes`). */
const SPARE_BUFFERS = 4

const notVerified = (message: string) => new StorageError({ reason: "NotVerified", message })

/** `cacheBytes` is used only when the backend asks for cached reads. */
export const makePieceReads = (backend: Backend, have: Have.HaveSet, cacheBytes: number): PieceReads => {
  const layout = have.layout
  // keyed by the ArrayBuffer every view of a piece buffer shares; only buffers allocated here
  const slots = new WeakMap<ArrayBufferLike, Slot>()
  const spare: Array<Uint8Array> = []
  // reads under way, by piece: completed (success or not) when the read ends
  const reading = new Map<number, Deferred.Deferred<void>>()

  const reuse = (slot: Slot) => {
    slots.delete(slot.buffer.buffer)
    if (slot.buffer.length === layout.pieceLength && spare.length < SPARE_BUFFERS) spare.push(slot.buffer)
  }
  const cache = makeLru<number, Uint8Array>(backend.cacheReads ? cacheBytes : 0, (_piece, buffer) => {
    const slot = slots.get(buffer.buffer)
    if (slot === undefined) return
    slot.cached = false
    if (slot.lent === 0 && !slot.pinned) reuse(slot)
  })

  /** Marks a view of `buffer` as handed out, before anything can evict it. */
  const handOut = (buffer: Uint8Array, lending: boolean) => {
    const slot = slots.get(buffer.buffer)
    if (slot === undefined) return
    if (lending) slot.lent++
    else slot.pinned = true
  }

  const readFromBackend = (piece: number, holder: Holder): Effect.Effect<Uint8Array, StorageError> => {
    const size = pieceSize(layout, piece)
    const into = backend.readPieceInto === undefined
      ? undefined
      : (size === layout.pieceLength ? spare.pop() : undefined) ?? allocatePiece(size)
    const read = into === undefined || backend.readPieceInto === undefined ? backend.readPiece(piece) : backend.readPieceInto(piece, into)
    const done = Deferred.makeUnsafe<void>()
    reading.set(piece, done)
    const stored = Effect.flatMap(read, (data) => {
      if (data === null) {
        // every read into `into` has finished: nobody else ever saw it
        if (into !== undefined && into.length === layout.pieceLength && spare.length < SPARE_BUFFERS) spare.push(into)
        // the files changed under us (truncated, deleted): stop claiming the piece
        Have.mark(have, piece, false)
        return Effect.fail(notVerified(`data of piece ${piece} is missing from storage`))
      }
      if (data === into) slots.set(into.buffer, { buffer: into, cached: true, lent: holder === "lend" ? 1 : 0, pinned: holder === "pin" })
      cache.set(piece, data, data.length)
      return Effect.succeed(data)
    })
    // a waiter looks at the cache again as soon as this completes: only after the piece is in it
    return Effect.onExit(stored, () => {
      reading.delete(piece)
      Deferred.doneUnsafe(done, Effect.void)
      return Effect.void
    })
  }

  const readAs = (lending: boolean) => (piece: number, begin: number, length: number): Effect.Effect<Uint8Array, StorageError> =>
    Effect.suspend(() => {
      const invalid = checkRead(layout, piece, begin, length)
      if (invalid !== undefined) return Effect.fail(invalid)
      if (!Have.has(have, piece)) return Effect.fail(notVerified(`piece ${piece} is not verified`))
      const cached = cache.get(piece)
      if (cached !== undefined) {
        handOut(cached, lending)
        return Effect.succeed(cached.subarray(begin, begin + length))
      }
      // a read of this piece (a prefetch) is under way: look again once it is done
      const pending = reading.get(piece)
      if (pending !== undefined) return Effect.andThen(Deferred.await(pending), readAs(lending)(piece, begin, length))
      return Effect.map(readFromBackend(piece, lending ? "lend" : "pin"), (data) => data.subarray(begin, begin + length))
    })

  const readSyncAs = (lending: boolean) => (piece: number, begin: number, length: number): Uint8Array | undefined => {
    if (checkRead(layout, piece, begin, length) !== undefined || !Have.has(have, piece)) return undefined
    const cached = cache.get(piece)
    if (cached !== undefined) {
      handOut(cached, lending)
      return cached.subarray(begin, begin + length)
    }
    const data = backend.readPieceSync?.(piece)
    return data === undefined || data === null ? undefined : data.subarray(begin, begin + length)
  }

  const release = (view: Uint8Array): void => {
    const slot = slots.get(view.buffer)
    if (slot === undefined || slot.lent === 0) return
    slot.lent--
    if (slot.lent === 0 && !slot.cached && !slot.pinned) reuse(slot)
  }

  // Read-ahead is for backends that read into pooled buffers (files). The simulator's corrupt
  // hosts read through `readPiece` and keep the reads they made, and so their traces.
  const readsAhead = backend.cacheReads && backend.readPieceInto !== undefined
  const needsRead = (piece: number) => readsAhead && Have.has(have, piece) && !cache.has(piece) && !reading.has(piece)
  const prefetch = (piece: number): Effect.Effect<void> | undefined =>
    needsRead(piece)
      ? Effect.suspend(() => needsRead(piece) ? Effect.ignore(readFromBackend(piece, "cache")) : Effect.void)
      : undefined

  return {
    read: readAs(false),
    readSync: readSyncAs(false),
    lend: readAs(true),
    lendSync: readSyncAs(true),
    release,
    prefetch,
    cache
  }
}
