/**
 * The rechoke loop: every `interval` (10 s) read the peers' statistics, run
 * the pure `choke`, and hand the decision to `apply` (which sends choke /
 * unchoke messages). Time comes from Effect's Clock and randomness from its
 * Random, so the loop runs on TestClock and replays under a seed.
 */
import { Clock, Duration, Effect, Random, Schedule } from "effect"
import { choke, type ChokeConfig, type ChokePeer, type ChokeResult } from "./choke.ts"

export interface ChokerHooks<K, E, R> {
  readonly peers: Effect.Effect<ReadonlyArray<ChokePeer<K>>, E, R>
  readonly seeding: Effect.Effect<boolean, E, R>
  readonly apply: (result: ChokeResult<K>) => Effect.Effect<void, E, R>
}

export interface RunChokerOptions {
  /** Time between rechokes; default 10 s. */
  readonly interval?: Duration.Input
  readonly config?: Partial<ChokeConfig>
}

/** One rechoke now, then one every `interval`, until interrupted. */
export const runChoker = <K, E, R>(hooks: ChokerHooks<K, E, R>, options: RunChokerOptions = {}) =>
  Effect.gen(function*() {
    let previousOptimistic: K | null = null
    let optimisticSince: number | null = null
    const rechoke = Effect.gen(function*() {
      const peers = yield* hooks.peers
      const seeding = yield* hooks.seeding
      const now = yield* Clock.currentTimeMillis
      const rng = yield* Random.Random
      const result = choke({
        peers,
        now,
        seeding,
        previousOptimistic,
        optimisticSince,
        random: () => rng.nextDoubleUnsafe(),
        ...(options.config === undefined ? {} : { config: options.config })
      })
      previousOptimistic = result.optimistic
      optimisticSince = result.optimisticSince
      yield* hooks.apply(result)
    })
    return yield* Effect.repeat(rechoke, Schedule.fixed(options.interval ?? Duration.seconds(10)))
  }).pipe(Effect.withSpan("runChoker"))
