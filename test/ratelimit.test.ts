import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { both, makeAdjustableThrottle, makeLimiter, makeThrottle, unlimited } from "../src/ratelimit/index.ts"

describe("rate limits (token buckets on the Effect clock)", () => {
  it.effect("lets one second of the rate through at once, then paces the rest", () =>
    Effect.gen(function*() {
      const limiter = yield* makeLimiter
      const throttle = makeThrottle(limiter, "t", 100_000)
      yield* throttle.take(100_000) // the full bucket: no wait
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      const fiber = yield* Effect.forkChild(throttle.take(50_000))
      yield* TestClock.adjust("400 millis")
      assert.isUndefined(fiber.pollUnsafe(), "50 kB at 100 kB/s cannot pass within 400 ms")
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(fiber)
    }))

  it.effect("separate keys have separate buckets; `both` waits for the slower", () =>
    Effect.gen(function*() {
      const limiter = yield* makeLimiter
      const fast = makeThrottle(limiter, "fast", 1_000_000)
      const slow = makeThrottle(limiter, "slow", 10_000)
      yield* slow.take(10_000)
      yield* fast.take(10_000)
      const fiber = yield* Effect.forkChild(both(fast, slow).take(10_000))
      yield* TestClock.adjust("900 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(fiber)
    }))

  it.effect("unlimited never waits", () =>
    Effect.gen(function*() {
      const limiter = yield* makeLimiter
      assert.strictEqual(makeThrottle(limiter, "x", null), unlimited)
      yield* unlimited.take(1e12)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    }))

  it.effect("an adjustable throttle takes a new rate at once, and null lifts it", () =>
    Effect.gen(function*() {
      const limiter = yield* makeLimiter
      const throttle = makeAdjustableThrottle(limiter, "adj", null)
      yield* throttle.take(1e9)
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      throttle.setRate(10_000)
      assert.strictEqual(throttle.rate(), 10_000)
      yield* throttle.take(10_000)
      const slow = yield* Effect.forkChild(throttle.take(10_000))
      yield* TestClock.adjust("900 millis")
      assert.isUndefined(slow.pollUnsafe(), "10 kB at 10 kB/s after a full bucket waits a second")
      yield* TestClock.adjust("200 millis")
      yield* Fiber.join(slow)
      throttle.setRate(null)
      assert.isNull(throttle.rate())
      const start = yield* Clock.currentTimeMillis
      yield* throttle.take(1e9)
      assert.strictEqual(yield* Clock.currentTimeMillis, start)
    }))
})
