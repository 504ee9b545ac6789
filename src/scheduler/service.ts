/**
 * Thin Effect wrapper around the pure picker core: one picker per torrent,
 * randomness drawn from Effect's `Random` (seedable, so the simulator replays
 * the same picks). Every operation is a synchronous step on the shared core;
 * JavaScript runs them one at a time, so no lock is needed.
 */
import { Context, Effect, Layer, Random, Result, Schema } from "effect"
import type { Block, FileSpan } from "./geometry.ts"
import type { ReceiveResult, VerifiedResult } from "./events.ts"
import { makePicker, type Picker, type PickerConfig } from "./picker.ts"

export class PickerConfigError extends Schema.TaggedError<PickerConfigError>()("PickerConfigError", {
  message: Schema.String
}) {}

/** Peers are identified by an opaque string key (e.g. "ip:port"). */
export type PeerKey = string

export interface PiecePickerShape {
  readonly addPeer: (peer: PeerKey, bitfield: Uint8Array) => Effect.Effect<void>
  readonly peerHasAll: (peer: PeerKey) => Effect.Effect<void>
  readonly peerHasNone: (peer: PeerKey) => Effect.Effect<void>
  readonly peerHas: (peer: PeerKey, piece: number) => Effect.Effect<boolean>
  readonly removePeer: (peer: PeerKey) => Effect.Effect<ReadonlyArray<Block>>
  readonly peerChoked: (peer: PeerKey) => Effect.Effect<ReadonlyArray<Block>>
  readonly isInteresting: (peer: PeerKey) => Effect.Effect<boolean>
  readonly pick: (peer: PeerKey, maxBlocks: number) => Effect.Effect<ReadonlyArray<Block>>
  readonly blockReceived: (
    peer: PeerKey,
    piece: number,
    begin: number,
    length: number
  ) => Effect.Effect<ReceiveResult<PeerKey>>
  readonly requestTimedOut: (peer: PeerKey, block: Block) => Effect.Effect<boolean>
  readonly cancelled: (peer: PeerKey, block: Block) => Effect.Effect<boolean>
  readonly rejected: (peer: PeerKey, block: Block) => Effect.Effect<boolean>
  readonly pieceVerified: (piece: number) => Effect.Effect<VerifiedResult<PeerKey>>
  readonly pieceFailed: (piece: number) => Effect.Effect<ReadonlySet<PeerKey>>
  readonly setWanted: (wanted: ReadonlyArray<boolean>) => Effect.Effect<void>
  readonly setFilePriorities: (files: ReadonlyArray<FileSpan>, priorities: ReadonlyArray<number>) => Effect.Effect<void>
  readonly setSequential: (on: boolean) => Effect.Effect<void>
  readonly isComplete: Effect.Effect<boolean>
  readonly remainingWanted: Effect.Effect<number>
  readonly inEndgame: Effect.Effect<boolean>
  /** The core itself, for synchronous use inside one step (and for tests). */
  readonly core: Picker<PeerKey>
}

const lift = <A extends ReadonlyArray<unknown>, R>(f: (...args: A) => R) => (...args: A): Effect.Effect<R> =>
  Effect.sync(() => f(...args))

export class PiecePicker extends Context.Service<PiecePicker, PiecePickerShape>()("effect-torrent/PiecePicker") {
  static readonly make = Effect.fn("PiecePicker.make")(function*(config: PickerConfig) {
    const made = makePicker<PeerKey>(config)
    if (Result.isFailure(made)) return yield* new PickerConfigError({ message: made.failure })
    const core = made.success
    return PiecePicker.of({
      addPeer: lift(core.addPeer),
      peerHasAll: lift(core.peerHasAll),
      peerHasNone: lift(core.peerHasNone),
      peerHas: lift(core.peerHas),
      removePeer: lift(core.removePeer),
      peerChoked: lift(core.peerChoked),
      isInteresting: lift(core.isInteresting),
      // Random is read per call, so whatever seed the caller's fiber runs under applies.
      pick: (peer, maxBlocks) =>
        Effect.map(Random.Random, (rng) => core.pick(peer, maxBlocks, () => rng.nextDoubleUnsafe())),
      blockReceived: lift(core.blockReceived),
      requestTimedOut: lift(core.requestTimedOut),
      cancelled: lift(core.cancelled),
      rejected: lift(core.rejected),
      pieceVerified: lift(core.pieceVerified),
      pieceFailed: lift(core.pieceFailed),
      setWanted: lift(core.setWanted),
      setFilePriorities: lift(core.setFilePriorities),
      setSequential: lift(core.setSequential),
      isComplete: Effect.sync(core.isComplete),
      remainingWanted: Effect.sync(core.remainingWanted),
      inEndgame: Effect.sync(core.inEndgame),
      core
    })
  })

  static readonly layer = (config: PickerConfig): Layer.Layer<PiecePicker, PickerConfigError> =>
    Layer.effect(PiecePicker, PiecePicker.make(config))
}
