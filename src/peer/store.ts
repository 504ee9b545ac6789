/**
 * What happens to a block once the picker accepted it: storage takes it, and a piece it
 * completes is verified. Shared by every source of blocks (peer sessions, web seeds), so a
 * verified or failed piece has the same consequences whoever sent it.
 */
import { Effect } from "effect"
import type { PieceIndex } from "../ids.ts"
import type { PutResult } from "../storage/index.ts"
import type { TorrentLink } from "./link.ts"

/** What happens after storage took (or refused) a block. */
export const afterPut = (torrent: TorrentLink, index: PieceIndex, put: PutResult | { readonly _tag: "Failed" }): Effect.Effect<void> => {
  switch (put._tag) {
    case "Verified":
      return torrent.onPieceVerified(index)
    case "HashFailed": {
      const failed = torrent.picker.pieceFailed(index)
      return torrent.onPieceFailed(index, failed.contributors, put.data === undefined ? undefined : { senders: failed.senders, data: put.data })
    }
    case "Backpressure":
      // The picker bounds open pieces below the storage's limit, so this is rare: start the piece over.
      torrent.picker.pieceFailed(index)
      torrent.wakeAll()
      return Effect.void
    default:
      return Effect.void
  }
}

/**
 * The slow path of storing a block (`putBlockSync` declined it): the block may complete its
 * piece, whose hash check and disk write then run here. A storage error stops the torrent.
 */
export const storeBlock = (torrent: TorrentLink, index: PieceIndex, begin: number, block: Uint8Array): Effect.Effect<void> =>
  torrent.storage.putBlock(index, begin, block).pipe(
    Effect.catch((error) => torrent.onStorageError(error).pipe(Effect.as({ _tag: "Failed" } as const))),
    Effect.flatMap((put) => afterPut(torrent, index, put))
  )
