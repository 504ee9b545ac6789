/**
 * Piece hashing off the JS thread.
 *
 * A `PieceHasher` hashes whole pieces in worker threads, so the event loop never spends
 * the ~0.55 ms per MiB that SHA-1 costs (a 16 MiB piece would block it for 9 ms). Piece
 * buffers come from `allocate`, in shared memory, which the workers read in place: a job
 * is a message of a few bytes, ~6 µs of main-thread time per piece where hashing it inline
 * costs ~140 µs per 256 KiB (measured on the project machine).
 *
 * Without a `PieceHasher` the storage hashes inline, incrementally as blocks arrive
 * (partial.ts). `FileStorage.layer` and `MemoryStorage.layer` pick one up from their
 * context when present; `layerNode` provides `PieceHasher.layerWorkers()`.
 *
 * Invariants: a buffer handed to `sha1` is not modified until the digest is back (the
 * storage core hands over completed pieces only); data outside shared memory is hashed
 * inline, so `sha1` accepts any bytes; a job never hangs: once its thread stops (the pool
 * closed, or the thread crashed) it is hashed inline instead.
 */
import { sha1 } from "../bytes.ts"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Context, Effect, Layer } from "effect"
import type { Scope } from "effect"

export interface PieceHasherShape {
  /** SHA-1 of `data`; off the JS thread when `data` lives in shared memory (see `allocate`). */
  readonly sha1: (data: Uint8Array) => Effect.Effect<Uint8Array>
  /** A buffer of `size` bytes that `sha1` reads without a copy. Not zero-filled. */
  readonly allocate: (size: number) => Uint8Array
  /**
   * For simulations, whose hosts all receive views of one shared content: with a backend
   * that stores no bytes (`Backend.storesBytes: false`), the storage keeps such blocks by
   * reference instead of copying them into a piece buffer, and hashes a completed piece
   * from its blocks, in order. The hasher may memoise the digest of bytes it knows never
   * change; the storage still compares it with the piece's hash from the metainfo.
   */
  readonly blocks?: {
    /** `data` lives in memory that never changes: a view of it may be kept. */
    readonly referable: (data: Uint8Array) => boolean
    readonly sha1: (blocks: ReadonlyArray<Uint8Array>) => Effect.Effect<Uint8Array>
  }
}

/**
 * Hashes completed pieces (SHA-1) on worker threads, reading them in shared memory in place.
 *
 * **When to use**
 *
 * With `FileStorage.layerWithHasher` or `MemoryStorage.layerWithHasher`, on a machine where
 * hashing on the JS thread would slow the download (`layerNode` does this for you; set
 * `hashThreads: 0` there to hash inline). Without it, storage hashes each block as it arrives.
 */
export class PieceHasher extends Context.Service<PieceHasher, PieceHasherShape>()("effect-torrent/PieceHasher") {
  /**
   * Hashing threads for real time (default: cores − 1, at least 1, at most 4), started by
   * the first piece to hash and stopped when the layer's scope closes; jobs still pending
   * then are hashed inline.
   *
   * **Example**
   *
   * ```ts
   * const storage = FileStorage.layerWithHasher.pipe(Layer.provide(PieceHasher.layerWorkers()))
   * ```
   */
  static layerWorkers(options: { readonly threads?: number } = {}): Layer.Layer<PieceHasher> {
    return Layer.effect(
      PieceHasher,
      Effect.map(makeHashPool(options.threads), (pool) =>
        PieceHasher.of({ sha1: pool.hash, allocate: allocateShared }))
    )
  }
}

/**
 * One piece being hashed. The digest lands in shared memory, so it can be collected
 * without the event loop: `poll` looks, `collect` waits for it (blocking the JS thread,
 * which the simulator wants: nothing may run before the result anyway).
 */
export interface HashJob {
  /** The digest if it is done, else undefined; never blocks. */
  readonly poll: () => Uint8Array | undefined
  /** The digest, waiting for the thread if need be. */
  readonly collect: () => Uint8Array
}

/** The worker pool, shared by the real-time (`hash`) and virtual-time (`start`) hashers. */
export interface HashPool {
  /**
   * The digest, when a thread has it (through the event loop). Interruptible: the fiber
   * stops waiting at once, and the thread finishes the job for nobody.
   */
  readonly hash: (data: Uint8Array) => Effect.Effect<Uint8Array>
  /** Starts hashing; the result is collected synchronously (see `HashJob`). */
  readonly start: (data: Uint8Array) => HashJob
  readonly threads: number
  /** Threads that are running: 0 before the first job, and once the pool's scope closed. */
  readonly running: () => number
}

export const allocateShared = (size: number): Uint8Array => new Uint8Array(new SharedArrayBuffer(size))

// The job's result slot: an Int32 state, then the 20-byte digest at byte 4. A queued job
// is taken by whoever claims it first (compare-exchange): its thread, or `collect`, which
// hashes it itself rather than wait for a thread that has not woken up yet.
const SLOT_BYTES = 24
const DIGEST_AT = 4
const QUEUED = 0
const DONE = 1
const RUNNING = 2
const STOLEN = 3

// CommonJS on purpose: an `eval` worker needs no file next to this one, whether the package
// runs from TypeScript sources or compiled JavaScript.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
parentPort.on("message", (job) => {
  const state = new Int32Array(job.slot, 0, 1)
  if (Atomics.compareExchange(state, 0, ${QUEUED}, ${RUNNING}) !== ${QUEUED}) return
  const digest = createHash("sha1").update(new Uint8Array(job.buffer, job.offset, job.length)).digest()
  new Uint8Array(job.slot, ${DIGEST_AT}, 20).set(digest)
  Atomics.store(state, 0, ${DONE})
  Atomics.notify(state, 0)
  if (job.reply) parentPort.postMessage(job.id)
})`

interface Thread {
  readonly worker: Worker
  /** Jobs handed to it and not yet done or collected: new jobs go to the least loaded thread. */
  load: number
  /** Jobs waiting for a reply message: while there are any, the thread keeps the process alive. */
  pending: number
  alive: boolean
}

/** How long `collect` waits for a thread before it hashes the bytes itself (a thread that died). */
const COLLECT_PATIENCE_MS = 10_000

/**
 * A pool of hashing threads, started by the first job on shared memory and stopped when
 * the scope closes. Default threads: cores − 1 (at least 1, at most 4).
 */
export const makeHashPool = (threads = Math.max(1, Math.min(4, availableParallelism() - 1))): Effect.Effect<HashPool, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      // Jobs that want a message back (real time), by id.
      const replies = new Map<number, { readonly settle: () => void; readonly thread: Thread }>()
      let nextId = 0
      const pool: Array<Thread> = []
      let closed = false
      // The threads start with the first piece, not with the pool: a command that never
      // hashes (or has not got a piece yet) does not pay for booting them at start-up.
      const startThreads = () => {
        if (pool.length > 0 || closed) return
        for (let i = 0; i < threads; i++) {
          const thread: Thread = { worker: new Worker(WORKER_SOURCE, { eval: true }), load: 0, pending: 0, alive: true }
          // Idle threads do not keep the process alive; a thread with work for a promise does.
          thread.worker.unref()
          thread.worker.on("message", (id: unknown) => {
            if (typeof id !== "number") return
            const reply = replies.get(id)
            replies.delete(id)
            if (reply === undefined) return
            thread.load--
            if (--thread.pending === 0) thread.worker.unref()
            reply.settle()
          })
          thread.worker.on("error", () => {}) // followed by "exit"
          // A thread that stopped (the pool closed, or it crashed) leaves no promise hanging:
          // its jobs are hashed here instead, from the same bytes.
          thread.worker.once("exit", () => {
            thread.alive = false
            for (const [id, reply] of replies) {
              if (reply.thread !== thread) continue
              replies.delete(id)
              reply.settle()
            }
          })
          pool.push(thread)
        }
      }

      const inline = (data: Uint8Array): HashJob => {
        const digest = sha1(data)
        return { poll: () => digest, collect: () => digest }
      }

      const submit = (data: Uint8Array, reply: ((thread: Thread, id: number) => void) | undefined): HashJob => {
        if (data.buffer instanceof SharedArrayBuffer) startThreads()
        let thread: Thread | undefined
        for (const t of pool) if (t.alive && (thread === undefined || t.load < thread.load)) thread = t
        if (thread === undefined || !(data.buffer instanceof SharedArrayBuffer)) return inline(data)
        const slot = new SharedArrayBuffer(SLOT_BYTES)
        const state = new Int32Array(slot, 0, 1)
        const id = nextId++
        const chosen = thread
        let fallback: Uint8Array | undefined
        let collected = false
        const poll = () => fallback ?? (Atomics.load(state, 0) === DONE ? new Uint8Array(slot, DIGEST_AT, 20).slice() : undefined)
        const job: HashJob = {
          poll,
          collect: () => {
            if (!collected) {
              collected = true
              chosen.load--
            }
            if (fallback !== undefined) return fallback
            // not started: hash it here, now (a sleeping thread can take milliseconds to wake)
            if (Atomics.compareExchange(state, 0, QUEUED, STOLEN) === QUEUED) return (fallback = sha1(data))
            const deadline = performance.now() + COLLECT_PATIENCE_MS
            while (Atomics.load(state, 0) === RUNNING) {
              if (performance.now() > deadline) return (fallback = sha1(data))
              Atomics.wait(state, 0, RUNNING, 100)
            }
            return poll() ?? sha1(data)
          }
        }
        chosen.load++
        reply?.(chosen, id)
        chosen.worker.postMessage({ id, slot, reply: reply !== undefined, buffer: data.buffer, offset: data.byteOffset, length: data.byteLength })
        return job
      }

      const hash = (data: Uint8Array): Effect.Effect<Uint8Array> =>
        Effect.callback<Uint8Array>((resume) => {
          let waiting: { readonly id: number; readonly thread: Thread } | undefined
          const job: HashJob = submit(data, (thread, id) => {
            waiting = { id, thread }
            replies.set(id, { thread, settle: () => resume(Effect.succeed(job.poll() ?? sha1(data))) })
            if (thread.pending++ === 0) thread.worker.ref()
          })
          if (waiting === undefined) return resume(Effect.succeed(job.collect()))
          const { id, thread } = waiting
          // Interrupted: nobody wants the digest, but the reply still comes and balances the thread's counts.
          return Effect.sync(() => {
            if (replies.has(id)) replies.set(id, { thread, settle: () => {} })
          })
        })

      const running = () => pool.filter((t) => t.alive).length
      const close = () => {
        closed = true
        return Promise.all(pool.map((t) => t.worker.terminate()))
      }
      return { close, hashPool: { hash, start: (data) => submit(data, undefined), threads, running } satisfies HashPool }
    }),
    ({ close }) => Effect.promise(close).pipe(Effect.asVoid)
  ).pipe(Effect.map(({ hashPool }) => hashPool))
