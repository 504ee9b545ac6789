/**
 * The simulation's virtual time: sleeps wake in (time, registration) order, time moves
 * only inside `advanceUntil` and only once every fiber has suspended, interrupted sleeps
 * never fire, concurrent `advanceUntil` calls take turns, and work offloaded to other threads
 * finishes at its virtual time however long it really takes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import * as fc from "fast-check"
import { advanceUntil, inVirtualTime } from "../src/sim/index.ts"
import { makeSimHasher } from "../src/sim/hashing.ts"
import { currentVirtualTime } from "../src/sim/virtual-time.ts"
import { sha1 } from "../src/bytes.ts"
import { allocateShared } from "../src/storage/hasher.ts"
import { waitUntil } from "./support/waiting.ts"

describe("virtual time", () => {
  it.effect("sleeps wake in time order, ties in the order they were started, at their exact virtual time", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 40 }), (delays) =>
          Effect.runPromise(inVirtualTime(
            Effect.gen(function*() {
              const woke: Array<[number, number]> = []
              for (const [i, d] of delays.entries()) {
                yield* Effect.forkChild(Effect.sleep(`${d} millis`).pipe(
                  Effect.andThen(Clock.currentTimeMillis),
                  Effect.flatMap((t) => Effect.sync(() => woke.push([i, t])))
                ))
              }
              yield* advanceUntil({ done: () => woke.length === delays.length, deadlineMs: 1000, stepMs: 7 })
              const expected = delays.map((d, i) => [i, d] as [number, number]).sort((a, b) => a[1] - b[1] || a[0] - b[0])
              assert.deepStrictEqual(woke, expected)
            }),
            { seed: 1 }
          ))
        ),
        { numRuns: 30 }
      )
    ))

  it.effect("offloaded work resumes at its virtual time, whether the real work is slow or fast", () =>
    inVirtualTime(
      Effect.gen(function*() {
        const time = yield* currentVirtualTime
        const order: Array<string> = []
        const slow = () => {
          const until = performance.now() + 60 // really takes 60 ms…
          return () => {
            while (performance.now() < until) { /* collecting waits for the work */ }
            return "slow"
          }
        }
        const record = (label: string) => Effect.andThen(Clock.currentTimeMillis, (t) => Effect.sync(() => void order.push(`${label}@${t}`)))
        // …but counts 5 virtual ms; a 3 ms sleep started after it still comes first, a 5 ms one after
        const work = yield* Effect.forkChild(Effect.flatMap(time.offload(slow, 5), record))
        yield* Effect.forkChild(Effect.andThen(Effect.sleep("3 millis"), record("sleep3")))
        yield* Effect.forkChild(Effect.andThen(Effect.sleep("5 millis"), record("sleep5")))
        const instant = yield* Effect.forkChild(Effect.flatMap(time.offload(() => () => "fast", 1), record))
        yield* advanceUntil({ done: () => order.length === 4, deadlineMs: 100, stepMs: 1 })
        yield* Fiber.join(work)
        yield* Fiber.join(instant)
        assert.deepStrictEqual(order, ["fast@1", "sleep3@3", "slow@5", "sleep5@5"])
        // the simulation's SHA-1 threads: a piece takes size / rate of virtual time
        const hasher = yield* makeSimHasher(1_000_000)
        const piece = allocateShared(250_000).fill(9)
        const start = yield* Clock.currentTimeMillis
        const hashing = yield* Effect.forkChild(hasher.sha1(piece))
        yield* advanceUntil({ done: () => hashing.pollUnsafe() !== undefined, deadlineMs: 1000, stepMs: 10 })
        assert.deepStrictEqual(yield* Fiber.join(hashing), sha1(piece))
        assert.strictEqual((yield* Clock.currentTimeMillis) - start, 250)
      }).pipe(Effect.scoped),
      { seed: 1 }
    ))

  it.effect("time stands still outside advanceUntil; every fiber runs to its next suspension first", () =>
    inVirtualTime(
      Effect.gen(function*() {
        let spins = 0
        // a busy fiber that yields 10 000 times without sleeping: the timer must wait for it
        const busy = yield* Effect.forkChild(Effect.gen(function*() {
          for (let i = 0; i < 10_000; i++) {
            spins++
            yield* Effect.yieldNow
          }
          return yield* Clock.currentTimeMillis
        }))
        const sleeper = yield* Effect.forkChild(Effect.sleep("5 millis").pipe(Effect.andThen(Effect.sync(() => spins))))
        assert.strictEqual(yield* Clock.currentTimeMillis, 0)
        yield* advanceUntil({ done: () => false, deadlineMs: 10 })
        assert.strictEqual(yield* Clock.currentTimeMillis, 10)
        assert.strictEqual(yield* Fiber.join(busy), 0)
        assert.strictEqual(yield* Fiber.join(sleeper), 10_000)
      }),
      { seed: 1 }
    ))

  it.effect("an interrupted sleep never fires; a timeout around a faster effect leaves nothing behind", () =>
    inVirtualTime(
      Effect.gen(function*() {
        let fired = 0
        const f = yield* Effect.forkChild(Effect.sleep("10 millis").pipe(Effect.andThen(Effect.sync(() => { fired++ }))))
        yield* advanceUntil({ done: () => false, deadlineMs: 5 })
        yield* Fiber.interrupt(f)
        const fast = yield* Effect.forkChild(Effect.sleep("1 millis").pipe(Effect.as("fast"), Effect.timeout("100 millis")))
        yield* advanceUntil({ done: () => fast.pollUnsafe() !== undefined, deadlineMs: 1000, stepMs: 1 })
        assert.strictEqual(yield* Fiber.join(fast), "fast")
        yield* advanceUntil({ done: () => false, deadlineMs: 1000 })
        assert.strictEqual(fired, 0)
      }),
      { seed: 1 }
    ))

  it.effect("concurrent advanceUntil calls take turns and each sees its deadline", () =>
    inVirtualTime(
      Effect.gen(function*() {
        const reached = yield* Effect.forEach(
          [100, 200, 300],
          (deadlineMs) => advanceUntil({ done: () => false, deadlineMs, stepMs: 10 }),
          { concurrency: "unbounded" }
        )
        for (const [i, t] of reached.entries()) assert.isAtLeast(t, [100, 200, 300][i] ?? Infinity)
        const now = yield* Clock.currentTimeMillis
        assert.isAtLeast(now, 300)
        assert.isAtMost(now, 330)
      }),
      { seed: 1 }
    ))
  it.live("an interrupted simulation's finalizers get the virtual time they wait for", () =>
    Effect.gen(function*() {
      let finalized = -1
      let advancing = false
      const run = yield* Effect.forkChild(inVirtualTime(
        Effect.gen(function*() {
          // a finalizer with a timeout, like a client's `stopped` announce
          yield* Effect.addFinalizer(() =>
            Effect.sleep("30 seconds").pipe(
              Effect.andThen(Clock.currentTimeMillis),
              Effect.flatMap((t) => Effect.sync(() => { finalized = t }))
            )
          )
          advancing = true
          yield* advanceUntil({ done: () => false, deadlineMs: Number.MAX_SAFE_INTEGER })
        }),
        { seed: 1 }
      ))
      yield* waitUntil("the simulation to run", () => advancing)
      yield* Fiber.interrupt(run)
      // stopped between two steps of 250 ms, then 30 s more, without anyone advancing
      assert.isAtLeast(finalized, 30_000)
      assert.strictEqual(finalized % 250, 30_000 % 250)
    }))
})
