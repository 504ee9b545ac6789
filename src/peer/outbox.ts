/**
 * The sending side of a peer session.
 *
 * Messages and uploads go out synchronously at the end of the current turn: `send` queues a
 * message and schedules one `flush` task on the fiber scheduler, which encodes everything
 * queued meanwhile, serves the upload queue from memory, and offers it all to the
 * connection in one write. A session therefore costs no fiber hand-off per message (a
 * `have` to 50 peers is 50 array pushes and 50 synchronous writes, not 50 fiber wake-ups).
 *
 * A writer fiber only waits: when the send buffer is full (`Connection.drained`), when an
 * upload needs an asynchronous read (a piece not in memory), or for the upload rate limit.
 * `flush` forks one (through the session's `fork`) when it hands over, and it ends as soon as
 * it finds nothing left to send, so an idle session has none (a fiber, its context and its
 * wait cost about 2 KiB a peer). From the moment it is handed the connection until it finds
 * nothing left, it alone writes; `flush` does nothing meanwhile. Either way bytes leave in the
 * order they were queued: messages first, then uploads in request order.
 *
 * Uploaded blocks are lent by the storage (its pooled piece buffers): each write hands them
 * back once the connection says it no longer holds them.
 *
 * The message queue is bounded: our own messages that find it full mean the peer stopped
 * reading (`send` returns false and the session ends); replies the peer provoked wait for
 * room (`reply`), which stops the reader and pushes back on the peer through TCP.
 */
import { Effect, Exit, Queue, Result, Scheduler } from "effect"
import type { Connection, NetError } from "../net/index.ts"
import { unlimited } from "../ratelimit/index.ts"
import { encodeMessages, encodePieceHeader, type Message } from "../wire/index.ts"
import type { WireTrace } from "../trace/recorder.ts"
import type { PeerError } from "./errors.ts"
import type { TorrentLink } from "./link.ts"
import type { SessionState } from "./session-state.ts"

/** Messages waiting to be written; see the module docs. */
const OUTBOX_CAPACITY = 4096
/** Blocks served per write (16 × 16 KiB = 256 KiB), so messages are not held up long. */
const UPLOADS_PER_WRITE = 16
/**
 * Blocks per write on a connection that waits for room synchronously (`whenDrained`: the
 * simulated TCP): 4 × 16 KiB, its 64 KiB send buffer. There a write is one unit on the
 * simulated links; measured on 100 × 16 MiB `--seed 1`, 16 a write held a shared uplink
 * 25 ms at a time and the slowest tenth of the swarm finished 1.9 virtual s later, while 4
 * left completion times as they were with one block a write and cut the events by a fifth.
 */
const UPLOADS_PER_WRITE_SIMULATED = 4
/** Queued uploads looked through for the next piece to read ahead (4 MiB of blocks). */
const READ_AHEAD_SCAN = 256

export interface Outbox {
  /** Queues one of our own messages; false when the queue is full (the peer stopped reading). */
  send(message: Message): boolean
  /**
   * Queues one of our own messages that need not leave at once: it goes with the next write
   * to the peer, or at the latest at the next `flushLazy`. False as for `send`.
   */
  sendLazily(message: Message): boolean
  /** Writes what `sendLazily` queued, if nothing has taken it yet (the session's tick). */
  flushLazy(): void
  /** Queues a message the peer's own traffic provoked, waiting while the queue is full. */
  reply(message: Message): Effect.Effect<void>
  /** The upload queue (`s.uploads`) gained blocks. */
  uploadsAdded(): void
  /** The session ended: nothing is written any more. */
  stop(): void
}

/**
 * One dispatcher per scheduler, shared by every outbox: flushes scheduled in one turn run in
 * one task batch, and an idle peer does not keep a dispatcher of its own (issue 15).
 */
const dispatchers = new WeakMap<Scheduler.Scheduler, Scheduler.SchedulerDispatcher>()
const dispatcherOf = (scheduler: Scheduler.Scheduler): Scheduler.SchedulerDispatcher => {
  let dispatcher = dispatchers.get(scheduler)
  if (dispatcher === undefined) {
    dispatcher = scheduler.makeDispatcher()
    dispatchers.set(scheduler, dispatcher)
  }
  return dispatcher
}

/** What the outbox uses of its torrent: the data it uploads, the upload limit, the upload count. */
export type OutboxTorrent = Pick<TorrentLink, "storage" | "uploadThrottle" | "onUploaded">

/** What an outbox is made of (`makeOutbox`'s arguments, its queue and the shared dispatcher). */
interface OutboxParts {
  readonly s: SessionState
  readonly conn: Connection
  readonly torrent: OutboxTorrent
  readonly now: () => number
  readonly toPeerError: (e: NetError) => PeerError
  readonly fork: (writer: Effect.Effect<void, PeerError>) => void
  readonly wire: WireTrace | null
  readonly queue: Queue.Queue<Message>
  readonly dispatcher: Scheduler.SchedulerDispatcher
}

/**
 * A class, not closures: every session has one, and its fourteen functions, their context
 * and the writer's effects were about 1 KiB of an idle peer (issue 15). Call its methods on
 * it, never detached. `flushTask` and `pumpTask` are the two functions handed to others
 * (the dispatcher, `whenDrained`); the writer's effects are made when a write must wait.
 */
class SessionOutbox implements Outbox {
  private flushScheduled = false
  /** `sendLazily` queued a message that no write has taken yet. */
  private lazy = false
  private readonly messages: Array<Message> = []
  private writerOwns = false
  private stopped = false
  /** Blocks lent by the storage for the write being put together (flush or the writer: one at a time). */
  private lent: Array<Uint8Array> = []
  /** The piece of the last block served: a block of another one starts its read-ahead. */
  private servingPiece = -1
  /** The pending wait of `pump` for room in the send buffer, cancelled when the session stops. */
  private cancelWait: (() => void) | undefined = undefined
  private readonly flushTask = () => this.flush()
  private pumpTask: (() => void) | undefined = undefined
  private readonly s: SessionState
  private readonly conn: Connection
  private readonly torrent: OutboxTorrent
  private readonly now: () => number
  private readonly toPeerError: (e: NetError) => PeerError
  private readonly fork: (writer: Effect.Effect<void, PeerError>) => void
  private readonly wire: WireTrace | null
  private readonly queue: Queue.Queue<Message>
  private readonly dispatcher: Scheduler.SchedulerDispatcher
  /**
   * Uploads `collect` serves per write when no limit is in force (asked with `free()`: a
   * client's throttles are adjustable, never `unlimited` itself, and comparing with that
   * object sent every block in a write, and a fiber round, of its own: 65,536 writev calls a
   * GiB seeded, issue 15; in the simulation, two events and a send-buffer timer a block).
   */
  private readonly uploadsPerWrite: number

  constructor(parts: OutboxParts) {
    this.s = parts.s
    this.conn = parts.conn
    this.torrent = parts.torrent
    this.now = parts.now
    this.toPeerError = parts.toPeerError
    this.fork = parts.fork
    this.wire = parts.wire
    this.queue = parts.queue
    this.dispatcher = parts.dispatcher
    this.uploadsPerWrite = parts.conn.whenDrained === undefined ? UPLOADS_PER_WRITE : UPLOADS_PER_WRITE_SIMULATED
  }

  /**
   * Starts reading the next piece the peer asked for while this one is sent (once per piece
   * served): without it every piece not in the read cache stalled the upload for a read
   * (a writer waiting on a 1 MiB pread while the socket drained). Storage that needs no
   * read (in memory, cached, being read) makes no fiber.
   */
  private readAhead(piece: number): void {
    let scanned = 0
    for (const block of this.s.uploads.values()) {
      if (block.piece !== piece) {
        const read = this.torrent.storage.prefetch(block.piece)
        if (read !== undefined) this.fork(read)
        return
      }
      if (++scanned === READ_AHEAD_SCAN) return
    }
  }

  private uploaded(chunks: Array<Uint8Array>, piece: number, begin: number, length: number, data: Uint8Array): void {
    if (piece !== this.servingPiece) {
      this.servingPiece = piece
      this.readAhead(piece)
    }
    chunks.push(encodePieceHeader(piece, begin, length), data)
    this.lent.push(data)
    if (this.wire !== null) this.wire.pieceOut(piece, begin, length)
    this.s.uploadMeter.add(length, this.now())
    this.s.stats.uploaded += length
    this.torrent.onUploaded(length)
  }

  /**
   * Moves what can go out now into `chunks`: every queued message, then up to
   * `UPLOADS_PER_WRITE` uploads readable from memory. Returns whether anything is left
   * for the writer fiber (uploads beyond the slice, or ones it must read or throttle).
   */
  private collect(chunks: Array<Uint8Array>): boolean {
    const { messages, queue, wire, s, torrent } = this
    this.lazy = false
    for (let e = Queue.takeUnsafe(queue); e !== undefined && Exit.isSuccess(e); e = Queue.takeUnsafe(queue)) {
      messages.push(e.value)
      if (wire !== null) wire.message("out", e.value)
    }
    // One buffer for everything queued this turn (a batch of requests is one 17-byte message each).
    if (messages.length > 0) {
      chunks.push(encodeMessages(messages))
      messages.length = 0
    }
    if (s.uploads.size === 0) return false
    if (!torrent.uploadThrottle.free()) return true
    let served = 0
    for (const [key, block] of s.uploads) {
      if (served === this.uploadsPerWrite) return true
      const data = torrent.storage.lendSync(block.piece, block.begin, block.length)
      if (data === undefined) return true
      s.uploads.delete(key)
      this.uploaded(chunks, block.piece, block.begin, block.length, data)
      served++
    }
    return false
  }

  private write(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (chunks.length === 0) return true
    this.s.lastSentAt = this.now()
    if (this.lent.length === 0) return this.conn.offer(chunks)
    const blocks = this.lent
    const storage = this.torrent.storage
    this.lent = []
    return this.conn.offer(chunks, () => {
      for (const block of blocks) storage.release(block)
    })
  }

  private flush(): void {
    this.flushScheduled = false
    if (this.writerOwns || this.stopped) return
    const chunks: Array<Uint8Array> = []
    const more = this.collect(chunks)
    if (!this.write(chunks) || more) {
      this.writerOwns = true
      if (this.conn.whenDrained === undefined) this.fork(this.writer())
      else this.pump()
    }
  }

  private schedule(): void {
    if (this.flushScheduled || this.writerOwns || this.stopped) return
    this.flushScheduled = true
    this.dispatcher.scheduleTask(this.flushTask, 0)
  }

  /** The upload at the head of the queue, read the slow way (storage I/O, rate limit). */
  private slowUpload(chunks: Array<Uint8Array>): Effect.Effect<void> {
    const self = this
    return Effect.gen(function*() {
      const { s, torrent } = self
      const first = s.uploads.entries().next()
      if (first.done === true) return
      const [key, block] = first.value
      s.uploads.delete(key)
      const data = yield* torrent.storage.lend(block.piece, block.begin, block.length).pipe(Effect.result)
      if (Result.isFailure(data)) return
      if (torrent.uploadThrottle !== unlimited) yield* torrent.uploadThrottle.take(block.length)
      self.uploaded(chunks, block.piece, block.begin, block.length, data.success)
    })
  }

  /**
   * `slowUpload` without a fiber, when it would not have to wait: no limit in force and the
   * head upload readable from memory. False when it would (the slow path must run).
   */
  private uploadNow(chunks: Array<Uint8Array>): boolean {
    if (!this.torrent.uploadThrottle.free()) return false
    const first = this.s.uploads.entries().next()
    if (first.done === true) return true
    const [key, block] = first.value
    const data = this.torrent.storage.lendSync(block.piece, block.begin, block.length)
    if (data === undefined) return false
    this.s.uploads.delete(key)
    this.uploaded(chunks, block.piece, block.begin, block.length, data)
    return true
  }

  /**
   * The writer loop without a fiber, for connections that can wait synchronously
   * (`Connection.whenDrained`): step for step what `writer` does, so the bytes leave at the
   * same moments and in the same order, but a wait for room is a timer that calls `pump`
   * again instead of a fiber's sleep (per block uploaded, a fiber, a generator step and
   * an `Effect.sleep` fewer). An upload that must wait for a read or the rate limit hands
   * over to a fiber, which comes back here once it is written.
   */
  private pump(): void {
    this.cancelWait = undefined
    const whenDrained = this.conn.whenDrained
    if (whenDrained === undefined) return
    const pumpTask = (this.pumpTask ??= () => this.pump())
    while (true) {
      const waiting = whenDrained(pumpTask)
      if (waiting !== undefined) {
        if (typeof waiting === "function") this.cancelWait = waiting
        else this.fork(Effect.fail(this.toPeerError(waiting)))
        return
      }
      const chunks: Array<Uint8Array> = []
      if (this.collect(chunks) && chunks.length < 2 * this.uploadsPerWrite && !this.uploadNow(chunks)) {
        this.fork(Effect.andThen(this.slowUpload(chunks), Effect.sync(() => {
          if (this.writeSome(chunks)) this.pump()
        })))
        return
      }
      if (!this.writeSome(chunks)) return
    }
  }

  /** The end of one round of the writer: false (and the connection back to `flush`) when nothing was left. */
  private writeSome(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (chunks.length === 0 && this.s.uploads.size === 0 && Queue.sizeUnsafe(this.queue) === 0) {
      this.writerOwns = false
      return false
    }
    this.write(chunks)
    return true
  }

  /** Writes until nothing is left to send, then gives the connection back to `flush`. */
  private writer(): Effect.Effect<void, PeerError> {
    const self = this
    const drained = this.conn.drained.pipe(Effect.mapError(this.toPeerError))
    return Effect.gen(function*() {
      while (true) {
        yield* drained
        const chunks: Array<Uint8Array> = []
        if (self.collect(chunks) && chunks.length < 2 * self.uploadsPerWrite) yield* self.slowUpload(chunks)
        if (chunks.length === 0 && self.s.uploads.size === 0 && Queue.sizeUnsafe(self.queue) === 0) break
        self.write(chunks)
      }
      self.writerOwns = false
    })
  }

  send(message: Message): boolean {
    if (!Queue.offerUnsafe(this.queue, message)) return false
    this.schedule()
    return true
  }

  sendLazily(message: Message): boolean {
    if (!Queue.offerUnsafe(this.queue, message)) return false
    this.lazy = true
    return true
  }

  flushLazy(): void {
    if (this.lazy) this.schedule()
  }

  reply(message: Message): Effect.Effect<void> {
    return Effect.andThen(Queue.offer(this.queue, message), Effect.sync(() => this.schedule()))
  }

  uploadsAdded(): void {
    this.schedule()
  }

  stop(): void {
    this.stopped = true
    this.cancelWait?.()
    this.cancelWait = undefined
  }
}

export const makeOutbox = Effect.fnUntraced(function*(
  s: SessionState,
  conn: Connection,
  torrent: OutboxTorrent,
  now: () => number,
  toPeerError: (e: NetError) => PeerError,
  /**
   * Runs a writer fiber for the session (one that fails ends the session: the connection
   * failed). Called when a write must wait; the fiber ends once nothing is left to send.
   */
  fork: (writer: Effect.Effect<void, PeerError>) => void,
  /** Traces what goes out as it goes (null: not traced). */
  wire: WireTrace | null = null
) {
  const queue = yield* Queue.bounded<Message>(OUTBOX_CAPACITY)
  const dispatcher = dispatcherOf(yield* Scheduler.Scheduler)
  const outbox: Outbox = new SessionOutbox({ s, conn, torrent, now, toPeerError, fork, wire, queue, dispatcher })
  return outbox
})
