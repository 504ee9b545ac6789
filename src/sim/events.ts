/**
 * The simulation's event queue: actions keyed by virtual millisecond, run in time order
 * and, within one millisecond, in the order they were scheduled.
 *
 * Each pending millisecond is one timer of the virtual time (virtual-time.ts), in the
 * same heap as the clients' own sleeps, so network deliveries are ordered with the
 * client's timers by the engine itself and the driver needs no knowledge of the network.
 * Delivery times are rounded up to whole milliseconds, which batches everything due in
 * the same millisecond into one timer, whatever the number of hosts.
 *
 * Invariants: one timer per pending bucket; a bucket runs once, in scheduling order.
 * Actions are plain synchronous functions; they may schedule more actions (also for
 * "now": those join the running bucket).
 */
import { Effect } from "effect"
import { currentVirtualTime } from "./virtual-time.ts"

/**
 * What runs at a time: a function, or a record whose `run` does the work (the simulated TCP
 * schedules one record per write, twice, instead of allocating closures per message).
 */
export type Action = (() => void) | { readonly run: () => void }

export interface EventQueue {
  /** Current virtual time in milliseconds. */
  readonly now: () => number
  /** Runs `action` at virtual time `at` (rounded up to a whole millisecond, never before now). */
  readonly at: (at: number, action: Action) => void
  /**
   * Runs `action` at exactly `at` (not rounded; never before now), ordered with the
   * clients' own sleeps as an `Effect.sleep` until `at` started now would be. Returns a
   * cancel function.
   */
  readonly timer: (at: number, action: () => void) => () => void
  /** Pending buckets, for tests. */
  readonly pending: () => number
  /** Actions run so far (deliveries and the like), for benchmarks. */
  readonly ran: () => number
  /** Cancels every pending bucket; nothing runs afterwards. */
  readonly shutdown: Effect.Effect<void>
}

export const makeEventQueue = Effect.fnUntraced(function*() {
  const time = yield* currentVirtualTime
  const buckets = new Map<number, Array<Action>>()
  const cancels = new Map<number, () => void>()
  let closed = false
  let ran = 0

  const run = (t: number) => {
    cancels.delete(t)
    const bucket = buckets.get(t)
    if (bucket === undefined) return
    // Actions may append to this very bucket (zero-delay sends): index loop on purpose.
    for (let i = 0; i < bucket.length && !closed; i++) {
      const action = bucket[i]
      if (typeof action === "function") action()
      else if (action !== undefined) action.run()
      ran++
    }
    buckets.delete(t)
  }

  const at = (when: number, action: Action) => {
    if (closed) return
    const t = Math.max(Math.ceil(when), Math.ceil(time.now()))
    const bucket = buckets.get(t)
    if (bucket !== undefined) {
      bucket.push(action)
      return
    }
    buckets.set(t, [action])
    cancels.set(t, time.schedule(t, () => run(t)))
  }

  const shutdown = Effect.sync(() => {
    closed = true
    buckets.clear()
    for (const cancel of cancels.values()) cancel()
    cancels.clear()
  })

  const queue: EventQueue = { now: time.now, at, timer: time.schedule, pending: () => buckets.size, ran: () => ran, shutdown }
  return queue
})
