/**
 * The recheck: hashing every piece the backend can produce, to learn what is really on
 * disk (opening without trusted resume data, or on request).
 */
import { Effect } from "effect"
import type { Backend } from "./backend.ts"
import * as Bitfield from "./bitfield.ts"
import { StorageError } from "./errors.ts"
import { checkPiece, type PieceHashing } from "./hashing.ts"
import { type Layout, pieceSize } from "./layout.ts"
import type { RecheckProgress } from "./types.ts"

/**
 * The bitfield of the pieces whose data hashes right. One piece-sized scratch buffer is
 * reused throughout; yields between pieces so peers keep being served meanwhile.
 */
export const scanPieces = (
  layout: Layout,
  backend: Backend,
  hashing: PieceHashing,
  onProgress: ((progress: RecheckProgress) => Effect.Effect<void>) | undefined
): Effect.Effect<Uint8Array, StorageError> =>
  Effect.gen(function*() {
    const count = layout.pieceCount
    const readPiece = yield* backend.beginRecheck
    const result = Bitfield.make(count)
    const scratch = hashing.allocate(count > 0 ? layout.pieceLength : 0)
    let found = 0
    for (let piece = 0; piece < count; piece++) {
      const data = yield* readPiece(piece, scratch.subarray(0, pieceSize(layout, piece)))
      const ok = data === null ? false : checkPiece(layout, piece, yield* hashing.bytes(piece, data), data)
      if (ok instanceof StorageError) return yield* ok
      if (ok) {
        Bitfield.set(result, piece, true)
        found++
      }
      if (onProgress !== undefined) yield* onProgress({ checked: piece + 1, total: count, verified: found })
      yield* Effect.yieldNow
    }
    return result
  })
