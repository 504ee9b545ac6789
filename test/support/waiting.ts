/**
 * Waiting for something to happen, the only way tests here wait: for a condition (polled,
 * with a deadline that only turns a hang into a clear failure), never for a fixed time
 * after which they assert. "Nothing happened" is shown with a positive signal (a later
 * event that could only come after it) or on virtual time, never by sleeping a while.
 * test/no-sleep.test.ts enforces it.
 *
 * Everything here waits in real time, also inside `it.effect` (where the TestClock
 * stands still until adjusted): real IO lands in real time.
 */
import { Clock, Effect } from "effect"
import type { TestClock } from "effect/testing"

const isTestClock = (clock: Clock.Clock): clock is TestClock.TestClock => "withLive" in clock && "adjust" in clock

/** Runs `effect` on the real clock, even under a TestClock. */
export const inRealTime = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    return isTestClock(clock) ? clock.withLive(effect) : effect
  })

/** Polls `check` every 10 ms (real time); dies naming `what` if it still fails after `seconds`. */
export const waitUntil = (what: string, check: () => boolean, seconds = 5): Effect.Effect<void> =>
  eventually(what, Effect.sync(check), (ok) => ok, seconds).pipe(Effect.asVoid)

/**
 * Reads `read` every 10 ms (real time) until `ok` holds and returns that value; dies naming
 * `what` after `seconds`. Only the pauses between reads are in real time: `read` itself
 * runs on the caller's clock (it may adjust a TestClock).
 */
export const eventually = <A, E, R>(what: string, read: Effect.Effect<A, E, R>, ok: (a: A) => boolean, seconds = 5): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    let last = yield* read
    for (let polls = 0; !ok(last); polls++) {
      if (polls >= seconds * 100) return yield* Effect.die(new Error(`timed out after ${seconds} s waiting for ${what}; last seen: ${show(last)}`))
      yield* inRealTime(Effect.sleep("10 millis"))
      last = yield* read
    }
    return last
  })

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
