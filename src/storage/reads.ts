/**
 * Serving verified data: range checks, the LRU piece cache (for backends that read from
 * disk; in-memory ones serve their stored buffers directly), and noticing data that
 * vanished from disk.
 */
import { Effect } from "effect"
import type { Backend } from "./backend.ts"
import { checkRead } from "./checks.ts"
import { StorageError } from "./errors.ts"
import * as Have from "./have.ts"
import { type Lru, makeLru } from "./lru.ts"

export interface PieceReads {
  /** A view of verified bytes; fails `OutOfRange` or `NotVerified`. */
  readonly read: (piece: number, begin: number, length: number) => Effect.Effect<Uint8Array, StorageError>
  /** The bytes when no I/O is needed (cached, in memory), else undefined. */
  readonly readSync: (piece: number, begin: number, length: number) => Uint8Array | undefined
  readonly cache: Lru<number, Uint8Array>
}

const notVerified = (message: string) => new StorageError({ reason: "NotVerified", message })

/** `cacheBytes` is used only when the backend asks for cached reads. */
export const makePieceReads = (backend: Backend, have: Have.HaveSet, cacheBytes: number): PieceReads => {
  const layout = have.layout
  const cache = makeLru<number, Uint8Array>(backend.cacheReads ? cacheBytes : 0)

  const read = (piece: number, begin: number, length: number): Effect.Effect<Uint8Array, StorageError> =>
    Effect.suspend(() => {
      const invalid = checkRead(layout, piece, begin, length)
      if (invalid !== undefined) return Effect.fail(invalid)
      if (!Have.has(have, piece)) return Effect.fail(notVerified(`piece ${piece} is not verified`))
      const cached = cache.get(piece)
      if (cached !== undefined) return Effect.succeed(cached.subarray(begin, begin + length))
      return Effect.flatMap(backend.readPiece(piece), (data) => {
        if (data === null) {
          // the files changed under us (truncated, deleted): stop claiming the piece
          Have.mark(have, piece, false)
          return Effect.fail(notVerified(`data of piece ${piece} is missing from storage`))
        }
        cache.set(piece, data, data.length)
        return Effect.succeed(data.subarray(begin, begin + length))
      })
    })

  const readSync = (piece: number, begin: number, length: number): Uint8Array | undefined => {
    if (checkRead(layout, piece, begin, length) !== undefined || !Have.has(have, piece)) return undefined
    const cached = cache.get(piece)
    if (cached !== undefined) return cached.subarray(begin, begin + length)
    const data = backend.readPieceSync?.(piece)
    return data === undefined || data === null ? undefined : data.subarray(begin, begin + length)
  }

  return { read, readSync, cache }
}
