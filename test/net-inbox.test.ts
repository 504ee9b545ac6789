/**
 * The receive inbox (src/net/inbox.ts), the one home of a socket's receive side: a
 * bounded FIFO that hands items straight to waiting receivers, remembers its end, and
 * (for datagrams) switches to a synchronous subscriber. The property runs random
 * sequences against a plain model; the rest pins waiting, interruption and the end.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fc from "fast-check"
import {
  type Address,
  ConnectionClosed,
  ConnectionReset,
  type Datagram,
  makeDatagramInbox,
  makeInbox,
  type NetError
} from "../src/net/index.ts"

interface Item {
  readonly n: number
}

const FROM: Address = { host: "127.0.0.1", port: 6881 }
const bytes = (n: number) => Uint8Array.of(n)

/** Forks `take` and runs it until it waits, so that it is registered before the next step. */
const waiting = <A, E>(take: Effect.Effect<A, E>) => Effect.forkChild(take, { startImmediately: true })

describe("net/inbox: makeInbox", () => {
  it("behaves as a bounded FIFO that keeps its backlog after the end (random sequences against a model)", () => {
    type Op = { readonly op: "offer"; readonly n: number } | { readonly op: "take" } | { readonly op: "end" }
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.nat().map((n) => ({ op: "offer" as const, n })) },
      { weight: 4, arbitrary: fc.constant({ op: "take" as const }) },
      { weight: 1, arbitrary: fc.constant({ op: "end" as const }) }
    )
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
      const inbox = makeInbox<Item, string>(capacity)
      const model: Array<number> = []
      let ended: string | undefined
      for (const [i, o] of ops.entries()) {
        if (o.op === "offer") {
          const accepted = ended === undefined && model.length < capacity
          assert.strictEqual(inbox.offer({ n: o.n }), accepted, `offer ${i}`)
          if (accepted) model.push(o.n)
        } else if (o.op === "end") {
          inbox.end(`end ${i}`)
          ended ??= `end ${i}`
          assert.strictEqual(inbox.ended(), ended, "only the first end counts")
        } else if (model.length > 0 || ended !== undefined) {
          // with something queued, or after the end, take answers at once
          const expected = model.shift()
          if (expected !== undefined) assert.deepStrictEqual(Effect.runSync(inbox.take), { n: expected }, `take ${i}`)
          else assert.strictEqual(Effect.runSync(Effect.flip(inbox.take)), ended, `take ${i} after the end`)
        }
      }
      assert.deepStrictEqual(inbox.drain().map((x) => x.n), model, "what is left, in order")
      assert.deepStrictEqual(inbox.drain(), [], "drain empties it")
    }))
  })

  it.effect("hands items straight to waiting receivers, longest-waiting first; nothing is queued meanwhile", () =>
    Effect.gen(function*() {
      const inbox = makeInbox<Item, string>(1)
      const first = yield* waiting(inbox.take)
      const second = yield* waiting(inbox.take)
      assert.isTrue(inbox.offer({ n: 1 }))
      assert.isTrue(inbox.offer({ n: 2 }), "the second waiter takes it although a queue of 1 could not hold both")
      assert.deepStrictEqual(inbox.drain(), [])
      assert.deepStrictEqual(yield* Fiber.join(first), { n: 1 })
      assert.deepStrictEqual(yield* Fiber.join(second), { n: 2 })
    }))

  it.effect("an interrupted receiver stops waiting: the next item is queued, not lost to it", () =>
    Effect.gen(function*() {
      const inbox = makeInbox<Item, string>(4)
      const gone = yield* waiting(inbox.take)
      yield* Fiber.interrupt(gone)
      assert.isTrue(inbox.offer({ n: 7 }))
      assert.deepStrictEqual(yield* inbox.take, { n: 7 })
    }))

  it.effect("the end fails every waiting receiver and refuses later items", () =>
    Effect.gen(function*() {
      const inbox = makeInbox<Item, string>(4)
      const a = yield* waiting(inbox.take)
      const b = yield* waiting(inbox.take)
      inbox.end("closed")
      inbox.end("later")
      assert.strictEqual(yield* Effect.flip(Fiber.join(a)), "closed")
      assert.strictEqual(yield* Effect.flip(Fiber.join(b)), "closed")
      assert.isFalse(inbox.offer({ n: 1 }))
      assert.deepStrictEqual(yield* Effect.flip(inbox.take), "closed")
    }))
})

describe("net/inbox: makeDatagramInbox", () => {
  const recorder = () => {
    const log: Array<string> = []
    const handler = {
      datagram: (payload: Uint8Array, from: Address) => log.push(`datagram ${payload[0]} from ${from.port}`),
      idle: () => log.push("idle"),
      end: (error: NetError) => log.push(`end ${error._tag}`)
    }
    return { log, handler }
  }

  it.effect("queues for receive up to its capacity, then a subscriber gets the backlog and what follows", () =>
    Effect.gen(function*() {
      const bursts: Array<() => void> = []
      const inbox = makeDatagramInbox(2, (run) => bursts.push(run))
      inbox.deliver(bytes(1), FROM)
      inbox.deliver(bytes(2), FROM)
      inbox.deliver(bytes(3), FROM) // over capacity: dropped
      const got: Datagram = yield* inbox.receive
      assert.deepStrictEqual(got, { payload: bytes(1), from: FROM })
      const { log, handler } = recorder()
      inbox.subscribe(handler)
      assert.deepStrictEqual(log, ["datagram 2 from 6881"])
      inbox.deliver(bytes(4), FROM)
      inbox.deliver(bytes(5), FROM)
      assert.strictEqual(bursts.length, 1, "one end-of-burst scheduled for the two")
      bursts[0]?.()
      inbox.deliver(bytes(6), FROM)
      assert.strictEqual(bursts.length, 2, "a new burst after the idle ran")
      assert.deepStrictEqual(log, ["datagram 2 from 6881", "datagram 4 from 6881", "datagram 5 from 6881", "idle", "datagram 6 from 6881"])
    }))

  it.effect("the end reaches the subscriber once (or a later one at subscribe), and later datagrams are dropped", () =>
    Effect.gen(function*() {
      const inbox = makeDatagramInbox(4)
      const { log, handler } = recorder()
      inbox.subscribe(handler)
      inbox.deliver(bytes(1), FROM)
      inbox.idle()
      inbox.end(new ConnectionClosed({ address: "127.0.0.1:6881" }))
      inbox.end(new ConnectionClosed({ address: "127.0.0.1:6881" }))
      inbox.deliver(bytes(2), FROM)
      assert.deepStrictEqual(log, ["datagram 1 from 6881", "idle", "end ConnectionClosed"])
      const late = recorder()
      inbox.subscribe(late.handler)
      assert.deepStrictEqual(late.log, ["end ConnectionClosed"])
      assert.strictEqual((yield* Effect.flip(inbox.receive))._tag, "ConnectionClosed")
    }))

  it.effect("clear drops the backlog: after a clear and an end, receive fails at once", () =>
    Effect.gen(function*() {
      const inbox = makeDatagramInbox(4)
      inbox.deliver(bytes(1), FROM)
      inbox.clear()
      inbox.end(new ConnectionReset({ address: "127.0.0.1:6881", detail: "host crashed" }))
      assert.strictEqual((yield* Effect.flip(inbox.receive))._tag, "ConnectionReset")
    }))
})
