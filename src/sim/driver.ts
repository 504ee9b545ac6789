/**
 * The discrete-event driver: runs a simulation in virtual time.
 *
 * Effect 4.1's `TestClock` already is a discrete-event scheduler: `adjust(d)` pops the
 * earliest pending sleep, moves the clock to its time, wakes its fiber and — through the
 * tracking `Scheduler` that `TestClock.layer()` installs — waits until that fiber and
 * every task it caused have suspended again, then pops the next sleep (including sleeps
 * registered meanwhile). Network deliveries are ordinary sleeps (events.ts), so one
 * `adjust` jumps straight from one pending wake-up to the next, in time order, with no
 * real waiting. The driver only slices the run into steps so it can stop as soon as the
 * scenario is done, or at the deadline.
 *
 * Determinism: everything runs on one JS thread in an order fixed by the virtual
 * timeline and the scheduler's FIFO queues; the warning timer of the TestClock (the only
 * live timer in the loop) is pushed out of reach so it can never change that order.
 */
import { Effect, Random } from "effect"
import type { Scope } from "effect"
import { TestClock } from "effect/testing"

export interface VirtualTimeOptions {
  /** Seed of Effect's `Random` for everything inside. */
  readonly seed: string | number
}

/**
 * Runs `program` under a fresh `TestClock` (virtual time starts at 0) and a seeded
 * `Random`. Inside, use `advanceUntil` to let virtual time pass.
 */
export const inVirtualTime = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: VirtualTimeOptions
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  program.pipe(
    Effect.scoped,
    Random.withSeed(options.seed),
    Effect.provide(TestClock.layer({ warningDelay: "24 hours" }), { local: true })
  )

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
  TestClock.testClockWith((clock) =>
    Effect.gen(function*() {
      const step = options.stepMs ?? 250
      // let everything started so far run up to its first suspension
      yield* Effect.yieldNow
      while (true) {
        const now = clock.currentTimeMillisUnsafe()
        if (options.done() || now >= options.deadlineMs) return now
        yield* clock.adjust(Math.min(step, options.deadlineMs - now))
        if (options.onStep !== undefined) yield* options.onStep(clock.currentTimeMillisUnsafe())
      }
    })
  )
