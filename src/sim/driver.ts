/**
 * The discrete-event driver: runs a simulation in virtual time.
 *
 * `inVirtualTime` runs a program on a fresh `VirtualTime` (virtual-time.ts): its `Clock`
 * and its `Scheduler` replace Effect's, so every fiber the program starts — clients,
 * network events, timers — runs on one task queue in virtual time. Virtual time only
 * passes inside `advanceUntil`, which moves it from one pending timer to the next, in
 * time order, with no real waiting, after every fiber has run up to its next suspension.
 * The driver slices the run into steps so it can stop as soon as the scenario is done,
 * or at the deadline.
 *
 * Determinism: everything runs on one JS thread in an order fixed by the virtual
 * timeline and the FIFO task queue; no real time is read, and MSE's key material comes
 * from the seeded `Random` instead of the platform's secure generator.
 */
import { Clock, Effect, Random, Scheduler } from "effect"
import type { Scope } from "effect"
import { MseEntropy, seededEntropy } from "../mse/index.ts"
import { currentVirtualTime, makeVirtualTime, register } from "./virtual-time.ts"

/** Virtual time a finished or interrupted simulation may take to shut down (its finalizers' timeouts). */
const TEARDOWN_LIMIT_MS = 10 * 60_000

export interface VirtualTimeOptions {
  /** Seed of Effect's `Random` for everything inside. */
  readonly seed: string | number
}

/**
 * Runs `program` in a fresh virtual time (starting at 0) with a seeded `Random`. Inside,
 * use `advanceUntil` to let virtual time pass.
 */
export const inVirtualTime = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: VirtualTimeOptions
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  Effect.suspend(() => {
    const time = register(makeVirtualTime())
    return program.pipe(
      // Once the program is done or interrupted (Ctrl-C), nobody advances time any more: let
      // it run by itself so the scope's finalizers (timeouts of `stopped` announces) finish.
      Effect.ensuring(Effect.sync(() => time.runFree(TEARDOWN_LIMIT_MS))),
      Effect.scoped,
      // MSE keys and pads from the seeded Random too: the same seed, the same bytes on the wire
      Effect.provideService(MseEntropy, seededEntropy),
      Random.withSeed(options.seed),
      Effect.provideService(Clock.Clock, time.clock),
      Effect.provideService(Scheduler.Scheduler, time.scheduler)
    )
  })

export interface AdvanceOptions {
  /** Stop once this returns true (checked between steps). */
  readonly done: () => boolean
  /** Virtual time (ms since the start) not to go beyond. */
  readonly deadlineMs: number
  /** Virtual time per step, i.e. how often `done` is checked. Default 250 ms. */
  readonly stepMs?: number
  /** Called after each step with the current virtual time. */
  readonly onStep?: (nowMs: number) => Effect.Effect<void>
}

/** Advances virtual time until `done()` or the deadline; returns the virtual time reached. */
export const advanceUntil = (options: AdvanceOptions): Effect.Effect<number> =>
  Effect.gen(function*() {
    const time = yield* currentVirtualTime
    const step = options.stepMs ?? 250
    // let everything started so far run up to its first suspension
    yield* time.advance(0)
    while (true) {
      const now = time.now()
      if (options.done() || now >= options.deadlineMs) return now
      yield* time.advance(Math.min(step, options.deadlineMs - now))
      if (options.onStep !== undefined) yield* options.onStep(time.now())
    }
  })
