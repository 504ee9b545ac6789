/**
 * The one dial loop (torrent/dialler.ts), alone: a real peer book, a Semaphore for room,
 * and `start` recording what it was handed. Virtual time (TestClock) for the backoff.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Queue, Semaphore } from "effect"
import { TestClock } from "effect/testing"
import type { PeerKey } from "../src/ids.ts"
import { dialLoop, makeDialWake, makePeerBook } from "../src/torrent/index.ts"

const at = (port: number) => ({ host: "127.0.0.1", port })

const setup = (room: number) =>
  Effect.gen(function*() {
    const book = makePeerBook()
    const wake = makeDialWake()
    const slots = Semaphore.makeUnsafe(room)
    const started = yield* Queue.unbounded<PeerKey>()
    const idle = yield* Deferred.make<void>()
    yield* Effect.forkScoped(dialLoop({
      book,
      wake,
      take: (restore) => restore(slots.take(1)),
      giveBack: slots.release(1),
      start: (_, key) => Queue.offer(started, key).pipe(Effect.asVoid),
      idle: Deferred.succeed(idle, undefined).pipe(Effect.asVoid)
    }))
    return { book, wake, slots, started, idle }
  })

describe("dialLoop", () => {
  it.effect("dials due addresses while there is room, and the next one when room is given back", () =>
    Effect.scoped(Effect.gen(function*() {
      const { book, wake, slots, started } = yield* setup(2)
      book.add([at(1), at(2), at(3)], "test", 0)
      wake.notify()
      const first = [yield* Queue.take(started), yield* Queue.take(started)]
      assert.deepStrictEqual(first.toSorted(), ["127.0.0.1:1", "127.0.0.1:2"])
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Queue.size(started), 0, "no room: the third waits")
      yield* slots.release(1)
      assert.strictEqual(yield* Queue.take(started), "127.0.0.1:3")
    })))

  it.effect("runs `idle` when the book has nothing waiting, and wakes for new addresses", () =>
    Effect.scoped(Effect.gen(function*() {
      const { book, wake, started, idle } = yield* setup(4)
      yield* Deferred.await(idle)
      book.add([at(7)], "test", 0)
      wake.notify()
      assert.strictEqual(yield* Queue.take(started), "127.0.0.1:7")
    })))

  it.effect("an address backing off is dialled when its backoff ends, on the clock alone", () =>
    Effect.scoped(Effect.gen(function*() {
      const { book, wake, started } = yield* setup(4)
      book.add([at(9)], "test", 0)
      wake.notify()
      const key = yield* Queue.take(started)
      book.markDisconnected(key, true, 0) // first failure: 15 s
      wake.notify()
      yield* TestClock.adjust("14 seconds")
      assert.strictEqual(yield* Queue.size(started), 0)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Queue.take(started), key)
    })))
})
