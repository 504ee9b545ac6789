/**
 * The torrent's ban policy: who is banned after a piece fails its hash check (blame.ts
 * decides, a pure core), and what a ban does (the peer book forgets the address for good,
 * the session or web seed ends, a `PeerBanned` event and a trace line say why).
 */
import { Effect } from "effect"
import type { PeerKey, PieceIndex } from "../ids.ts"
import { pieceFailed } from "./blame.ts"
import { type TorrentCore, wakeAll } from "./core.ts"
import { publish } from "./progress.ts"

/**
 * Bans the peers and ends their sessions. The disconnects come last, in one synchronous
 * step: this often runs inside a banned peer's own session, and ending that session
 * interrupts the very fiber running this.
 */
export const ban = (core: TorrentCore, keys: ReadonlyArray<PeerKey>, reason: string): Effect.Effect<void> =>
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

/** A piece failed its hash check: a lone sender is convicted, shared pieces give strikes (blame.ts). */
export const onPieceFailed = (core: TorrentCore, piece: PieceIndex, contributors: ReadonlySet<PeerKey>): Effect.Effect<void> =>
  Effect.gen(function*() {
    core.trace?.event(undefined, { type: "piece-failed", index: piece, from: [...contributors] })
    yield* publish(core, { _tag: "HashFailed", piece, peers: [...contributors] })
    const convicted = pieceFailed(core.blame, contributors)
    // The failed piece's blocks are back in the pool.
    wakeAll(core)
    yield* ban(core, convicted, `sent data that failed the hash check of piece ${piece}`)
  })
