/**
 * Virtual time for simulations: a `Clock` and a `Scheduler` for Effect that together are
 * a discrete-event engine.
 *
 * - Every fiber of the simulation runs on one FIFO task queue (the `Scheduler`); the
 *   engine drains it in a plain loop, so a fiber waking another costs an array push, not a
 *   macrotask of the real event loop per fiber (Effect's default scheduler gives each
 *   fiber its own `setImmediate`).
 * - `Clock.sleep` and the simulation's own events (`schedule`) are timers in one binary
 *   heap ordered by (time, registration order): O(log n) per timer, where `TestClock`
 *   keeps a sorted array (O(n) inserts) and runs several fibers, a real timer and a
 *   macrotask round trip per wake-up.
 * - Time moves only while `advance` is pending (as with `TestClock.adjust`), and only when
 *   the task queue is empty: every fiber has run up to its next suspension before the
 *   earliest timer fires. Timers due now fire whenever the queue is empty.
 *
 * Determinism: one JS thread, FIFO tasks, timers by (time, sequence number). The real
 * event loop is only used to start draining (through Effect's own scheduler) and to let it
 * breathe every `BREATH_MS` of real time, so a Ctrl-C is seen within that. That real time is
 * read for this alone: it decides where a drain pauses, never what runs next.
 *
 * Priorities of `scheduleTask` are ignored: Effect itself only ever uses priority 0.
 */
import { Clock, Duration, Effect, Scheduler } from "effect"
import { MinHeap } from "../heap.ts"

interface Timer {
  readonly at: number
  readonly seq: number
  /** Cleared when cancelled or fired. */
  run: (() => void) | undefined
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq)

interface Advancer {
  readonly millis: number
  readonly resume: () => void
}

/** Real time (ms) a drain may run before it lets the real event loop run (signals, I/O). */
const BREATH_MS = 100
/** Steps between two looks at the real clock. */
const STEPS_PER_LOOK = 1024

export interface VirtualTime {
  readonly clock: Clock.Clock
  readonly scheduler: Scheduler.Scheduler
  /** Current virtual time in ms (may be fractional). */
  readonly now: () => number
  /** Runs `action` at virtual time `at` (not before now), outside any fiber. Returns a cancel function. */
  readonly schedule: (at: number, action: () => void) => () => void
  /** Lets virtual time pass by `millis`, running every task and timer due meanwhile. */
  readonly advance: (millis: number) => Effect.Effect<void>
  /** Timers not yet fired or cancelled (cancelled ones may still count until their time). */
  readonly pendingTimers: () => number
  /**
   * From now on, time runs by itself up to `limitMs` ahead: whenever every fiber is
   * suspended it jumps to the next timer, with nobody calling `advance`. For teardown after
   * an interruption: finalizers that wait on virtual timers (a `stopped` announce with a
   * timeout) would otherwise wait for an `advance` that never comes.
   */
  readonly runFree: (limitMs: number) => void
  /**
   * Work off the JS thread (a worker) that takes `durationMs` of virtual time: `start`
   * begins it and returns how to collect the result synchronously, which happens at
   * now + `durationMs`. Collecting blocks until the work is done (real time passes, virtual
   * time does not, nothing else runs), so the outcome never depends on how fast the machine
   * is: same inputs, same trace. Meanwhile the simulation goes on.
   */
  readonly offload: <A>(start: () => () => A, durationMs: number) => Effect.Effect<A>
  /** Tasks (fiber wake-ups) and timers run so far: the engine's events, for benchmarks. */
  readonly events: () => number
  /**
   * Waits, without moving time, until everything runnable at this instant has run: every
   * queued task and every timer already due now. A sequence of steps each followed by
   * `settle` gives the same interleaving whatever each step costs in fiber operations
   * (a fiber yields after a fixed number of them, so without it a step that does a few more
   * operations lets other fibers in at another point, and the trace changes).
   */
  readonly settle: Effect.Effect<void>
}

export const makeVirtualTime = (): VirtualTime => {
  let now = 0
  let seq = 0
  const timers = new MinHeap<Timer>(before)
  let tasks: Array<(() => void) | undefined> = []
  let head = 0
  // Concurrent `advance` calls take turns, as `TestClock.adjust` calls do: each one's span
  // starts when the previous one has ended.
  const advancers: Array<Advancer> = []
  let target: number | undefined
  let draining = false
  let kicked = false
  /** Set by `runFree`: timers up to here fire without an `advance`. */
  let freeUntil = -Infinity
  const host = new Scheduler.MixedScheduler()
  const hostDispatcher = host.makeDispatcher()

  const addTimer = (at: number, run: () => void): Timer => {
    const timer: Timer = { at: Math.max(at, now), seq: seq++, run }
    timers.push(timer)
    return timer
  }

  let events = 0
  const runTask = (): void => {
    events++
    const task = tasks[head]
    tasks[head++] = undefined
    if (head === tasks.length) {
      tasks = []
      head = 0
    } else if (head >= 4096 && head * 2 > tasks.length) {
      tasks = tasks.slice(head)
      head = 0
    }
    if (task !== undefined) task()
  }

  /** The next step: a task, else a due timer, else the end of the pending `advance`. */
  const step = (): boolean => {
    if (head < tasks.length) {
      runTask()
      return true
    }
    const limit = Math.max(target ?? now, freeUntil)
    const timer = timers.peek()
    if (timer !== undefined && timer.at <= limit) {
      timers.pop()
      const run = timer.run
      if (run !== undefined) {
        events++
        timer.run = undefined
        if (timer.at > now) now = timer.at
        run()
      }
      return true
    }
    if (target !== undefined) {
      if (target > now) now = target
      const finished = advancers.shift()
      activate()
      finished?.resume()
      return true
    }
    return false
  }

  /** Makes the first waiting advancer the running one. */
  const activate = (): void => {
    const first = advancers[0]
    target = first === undefined ? undefined : now + first.millis
  }

  const drain = (): void => {
    kicked = false
    if (draining) return
    draining = true
    const until = performance.now() + BREATH_MS
    let paused = false
    try {
      let steps = 0
      while (step()) {
        if (++steps % STEPS_PER_LOOK === 0 && performance.now() > until) {
          paused = true
          break
        }
      }
    } finally {
      draining = false
    }
    if (paused) kick()
  }

  function kick(): void {
    if (draining || kicked) return
    kicked = true
    hostDispatcher.scheduleTask(drain, 0)
  }

  const dispatcher: Scheduler.SchedulerDispatcher = {
    scheduleTask: (task) => {
      tasks.push(task)
      kick()
    },
    flush: () => {
      while (head < tasks.length) runTask()
    }
  }

  const scheduler: Scheduler.Scheduler = {
    executionMode: "async",
    shouldYield: (fiber) => host.shouldYield(fiber),
    makeDispatcher: () => dispatcher
  }

  const sleep = (duration: Duration.Duration): Effect.Effect<void> => {
    const millis = Duration.toMillis(duration)
    // like TestClock: a sleep that ends now (or earlier) does not suspend
    if (!(millis > 0)) return Effect.void
    return Effect.callback<void>((resume) => {
      const timer = addTimer(now + millis, () => resume(Effect.void))
      kick()
      return Effect.sync(() => {
        timer.run = undefined
      })
    })
  }

  const nanos = (): bigint => BigInt(Math.round(now * 1_000_000))
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => now,
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: nanos,
    monotonicTimeNanos: Effect.sync(nanos),
    sleep
  }

  const advance = (millis: number): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      const advancer: Advancer = { millis: Math.max(0, millis), resume: () => resume(Effect.void) }
      advancers.push(advancer)
      if (advancers.length === 1) activate()
      kick()
      return Effect.sync(() => {
        const i = advancers.indexOf(advancer)
        if (i < 0) return
        advancers.splice(i, 1)
        if (i === 0) activate()
      })
    })

  const offload = <A>(start: () => () => A, durationMs: number): Effect.Effect<A> =>
    Effect.callback<A>((resume) => {
      const collect = start()
      const timer = addTimer(now + Math.max(0, durationMs), () => {
        let result: Effect.Effect<A>
        try {
          result = Effect.succeed(collect())
        } catch (error) {
          result = Effect.die(error)
        }
        resume(result)
      })
      kick()
      return Effect.sync(() => {
        timer.run = undefined
      })
    })

  return {
    clock,
    scheduler,
    offload,
    now: () => now,
    schedule: (at, action) => {
      const timer = addTimer(at, action)
      kick()
      return () => {
        timer.run = undefined
      }
    },
    advance,
    pendingTimers: () => timers.size,
    events: () => events,
    // a timer due now fires only when the task queue is empty, after every earlier one
    settle: Effect.callback<void>((resume) => {
      const timer = addTimer(now, () => resume(Effect.void))
      kick()
      return Effect.sync(() => {
        timer.run = undefined
      })
    }),
    runFree: (limitMs) => {
      freeUntil = now + limitMs
      kick()
    }
  }
}

const engines = new WeakMap<Clock.Clock, VirtualTime>()

/** Registers `time` so `virtualTimeOf(time.clock)` finds it. */
export const register = (time: VirtualTime): VirtualTime => {
  engines.set(time.clock, time)
  return time
}

/** The virtual time behind a clock, if it is one. */
export const virtualTimeOf = (clock: Clock.Clock): VirtualTime | undefined => engines.get(clock)

/** The current virtual time; dies outside `inVirtualTime` (a simulation can only run there). */
export const currentVirtualTime: Effect.Effect<VirtualTime> = Effect.clockWith((clock) => {
  const time = virtualTimeOf(clock)
  return time === undefined
    ? Effect.die(new Error("no virtual time here: run the simulation inside inVirtualTime"))
    : Effect.succeed(time)
})
