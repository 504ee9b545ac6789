/**
 * The simulation's event queue: actions keyed by virtual millisecond, run in time order
 * and, within one millisecond, in the order they were scheduled.
 *
 * Time is Effect's `Clock` (the `TestClock` under the driver). Each pending millisecond
 * is woken by one ordinary `Effect.sleep` in a small "waker" fiber, so network
 * deliveries are ordered with the client's own timers by the `TestClock` itself, and
 * the driver needs no knowledge of the network. Delivery times are rounded up to whole
 * milliseconds, which batches everything due in the same millisecond into one wake-up:
 * that keeps the number of clock wake-ups bounded by the virtual milliseconds that carry
 * traffic, whatever the number of hosts.
 *
 * Invariants: only one waker is armed at or before the earliest pending bucket; a waker
 * that fires runs every bucket due by then, then re-arms for the next one. Actions are
 * plain synchronous functions; they may schedule more actions (also for "now").
 */
import { Clock, Duration, Effect, Fiber } from "effect"

type Action = () => void

/** A binary min-heap of integers. */
class TimeHeap {
  private readonly items: Array<number> = []
  get size(): number {
    return this.items.length
  }
  peek(): number | undefined {
    return this.items[0]
  }
  push(value: number): void {
    const a = this.items
    a.push(value)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = a[parent] ?? 0
      if (p <= value) break
      a[i] = p
      i = parent
    }
    a[i] = value
  }
  pop(): number | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    let i = 0
    const n = a.length
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const lv = a[l] ?? 0
      const rv = r < n ? (a[r] ?? 0) : Infinity
      const c = rv < lv ? r : l
      const cv = rv < lv ? rv : lv
      if (cv >= last) break
      a[i] = cv
      i = c
    }
    a[i] = last
    return top
  }
}

export interface EventQueue {
  /** Current virtual time in milliseconds. */
  readonly now: () => number
  /** Runs `action` at virtual time `at` (rounded up to a whole millisecond, never before now). */
  readonly at: (at: number, action: Action) => void
  /** Pending buckets, for tests. */
  readonly pending: () => number
  /** Interrupts every waker; nothing runs afterwards. */
  readonly shutdown: Effect.Effect<void>
}

export const makeEventQueue = Effect.fnUntraced(function*() {
  const clock = yield* Clock.Clock
  // The context of whoever built the world: its Clock (TestClock) and Scheduler (the
  // TestClock's tracking scheduler) are what the wakers must run under.
  const context = yield* Effect.context<never>()
  const fork = Effect.runForkWith(context)
  const buckets = new Map<number, Array<Action>>()
  const times = new TimeHeap()
  const armed = new Set<number>()
  const wakers = new Set<Fiber.Fiber<void>>()
  let minArmed = Infinity
  let closed = false

  const now = () => clock.currentTimeMillisUnsafe()

  // `due`: the bucket time the waker was armed for. The clock may stop a hair short of it
  // (fractional sleeps accumulate float error), so the waker's own time counts as now.
  const runDue = (due: number) => {
    while (!closed) {
      const t = times.peek()
      if (t === undefined || t > Math.max(due, now())) break
      const bucket = buckets.get(t)
      if (bucket !== undefined) {
        // Actions may append to this very bucket (zero-delay sends): index loop on purpose.
        for (let i = 0; i < bucket.length; i++) {
          const action = bucket[i]
          if (action !== undefined) action()
        }
      }
      buckets.delete(t)
      times.pop()
    }
    const next = times.peek()
    if (next !== undefined && !closed) arm(next)
  }

  const recomputeMin = () => {
    minArmed = Infinity
    for (const a of armed) if (a < minArmed) minArmed = a
  }

  const arm = (t: number) => {
    if (minArmed <= t) return
    armed.add(t)
    minArmed = t
    const delay = Math.max(0, t - now())
    const fiber = fork(Effect.sleep(Duration.millis(delay)).pipe(
      Effect.andThen(Effect.sync(() => {
        armed.delete(t)
        if (minArmed === t) recomputeMin()
        runDue(t)
      }))
    ))
    if (fiber.pollUnsafe() === undefined) {
      wakers.add(fiber)
      fiber.addObserver(() => wakers.delete(fiber))
    }
  }

  const at = (time: number, action: Action) => {
    if (closed) return
    const t = Math.max(Math.ceil(time), Math.ceil(now()))
    const bucket = buckets.get(t)
    if (bucket !== undefined) {
      bucket.push(action)
      return
    }
    buckets.set(t, [action])
    times.push(t)
    arm(t)
  }

  const shutdown = Effect.suspend(() => {
    closed = true
    buckets.clear()
    const all = [...wakers]
    wakers.clear()
    return Effect.forEach(all, (f) => Fiber.interrupt(f), { discard: true })
  })

  const queue: EventQueue = { now, at, pending: () => buckets.size, shutdown }
  return queue
})
