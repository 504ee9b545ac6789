/**
 * The torrent's ban policy: who is banned after a piece fails its hash check (smart ban:
 * smart-ban.ts decides, a pure core; a lone sender at once, the senders of blocks that
 * differ from the good ones once the piece verifies, its bytes read back), and what a ban does (the peer book forgets the address for good,
 * the session or web seed ends, a `PeerBanned` event and a trace line say why).
 */
import { Effect } from "effect"
import type { PeerKey, PieceIndex } from "../ids.ts"
import { pieceFailed, pieceVerified, suspectSize } from "./smart-ban.ts"
import { type TorrentShared, wakeAll } from "./core.ts"
import { publish } from "./progress.ts"

/**
 * Bans the peers and ends their sessions. The disconnects come last, in one synchronous
 * step: this often runs inside a banned peer's own session, and ending that session
 * interrupts the very fiber running this.
 */
export const ban = (core: TorrentShared, keys: ReadonlyArray<PeerKey>, reason: string): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (const key of keys) {
      core.book.ban(key)
      core.trace?.peer(key).event(undefined, { type: "ban", detail: reason })
      yield* publish(core, { _tag: "PeerBanned", peer: key, reason })
      yield* Effect.logWarning(`banned ${key}: ${reason}`)
    }
    yield* Effect.sync(() => {
      for (const key of keys) core.links.get(key)?.disconnect("Banned", reason)
      for (const key of keys) core.webSeedSlots.stop(key)
    })
  })

/**
 * A piece failed its hash check: a lone sender is convicted now; with several, who sent which
 * block and its bytes (`evidence`) are kept for the verdict once the piece verifies. Without
 * the bytes only a lone sender can be judged (the ledger records nothing for empty data).
 */
export const onPieceFailed = (
  core: TorrentShared,
  piece: PieceIndex,
  contributors: ReadonlySet<PeerKey>,
  evidence: { readonly senders: ReadonlyArray<PeerKey | undefined>; readonly data: Uint8Array } | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    core.trace?.event(undefined, { type: "piece-failed", index: piece, from: [...contributors] })
    yield* publish(core, { _tag: "HashFailed", piece, peers: [...contributors] })
    const convicted = pieceFailed(core.smartBan, piece, evidence?.senders ?? [...contributors], evidence?.data ?? new Uint8Array(0))
    // The failed piece's blocks are back in the pool.
    wakeAll(core)
    yield* ban(core, convicted, `sent data that failed the hash check of piece ${piece}`)
  })

/**
 * A piece verified: `then`, followed by the verdict when failed attempts of it were waiting
 * (`then` itself otherwise, the hot path). The good bytes are read back from storage.
 */
export const afterVerified = (core: TorrentShared, piece: PieceIndex, then: Effect.Effect<void>): Effect.Effect<void> => {
  const size = suspectSize(core.smartBan, piece)
  if (size === undefined) return then
  const verdict = core.storage.read(piece, 0, size).pipe(
    Effect.flatMap((good) => ban(core, pieceVerified(core.smartBan, piece, good), `sent a block of piece ${piece} that differs from the verified one`)),
    Effect.catch((e) => Effect.logDebug(`smart ban: verified piece ${piece} unreadable: ${e.message}`))
  )
  return Effect.andThen(then, verdict)
}
