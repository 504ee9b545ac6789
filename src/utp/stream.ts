/**
 * A uTP connection as a `Connection` (net/Network.ts): the same contract a TCP socket
 * keeps, so the peer session cannot tell the transports apart.
 *
 * - reads: in-order payloads go to the `readable` consumer synchronously as they arrive
 *   (or to a pending `read`); data the reader has not taken yet counts against the
 *   window we advertise, so a slow reader slows the sender (back-pressure);
 * - writes: `offer` queues by reference and sends what the window allows, false once more
 *   than the send buffer waits; `drained` waits for room;
 * - `close`: a graceful close (the rest of the data, then a FIN); the multiplexer keeps
 *   the state until the FIN is acknowledged, as a kernel keeps a closed TCP socket.
 */
import { Deferred, Effect } from "effect"
import {
  type Address,
  type Connection,
  ConnectionClosed,
  ConnectionReset,
  ConnectRefused,
  ConnectTimeout,
  formatAddress,
  makeReadableSlot,
  type NetError
} from "../net/index.ts"
import * as Conn from "./connection.ts"

export interface StreamHooks {
  /** Microseconds on a monotonic clock. */
  readonly now: () => number
  readonly send: (packet: Uint8Array) => void
  /** The connection completed its handshake. */
  readonly onConnected: () => void
  /** The state machine is done: forget it. */
  readonly onClosed: (reason: Conn.CloseReason) => void
}

export interface UtpStream {
  readonly io: Conn.UtpIo
  readonly connection: Connection
  /** Completes when the handshake does, fails as `connect` should. */
  readonly established: Deferred.Deferred<void, NetError>
  conn: Conn.UtpConn | undefined
}

const COALESCE_BYTES = 64 * 1024

/**
 * Everything the reader may take, as one chunk: a burst's packets (about 1.4 KB each)
 * copied together, so the reader handles tens of kilobytes per call rather than one
 * packet's worth (the copy costs less than a consumer call per packet). At most about
 * `COALESCE_BYTES`, as a TCP read would be.
 */
const takeAll = (c: Conn.UtpConn): Uint8Array | undefined => {
  const first = Conn.take(c)
  if (first === undefined) return undefined
  const second = Conn.take(c)
  if (second === undefined) return first
  const chunks = [first, second]
  let bytes = first.length + second.length
  while (bytes < COALESCE_BYTES) {
    const next = Conn.take(c)
    if (next === undefined) break
    chunks.push(next)
    bytes += next.length
  }
  return Buffer.concat(chunks, bytes)
}

export const makeStream = (local: Address, remote: Address, hooks: StreamHooks, connectTimeoutMillis = 0): UtpStream => {
  const address = formatAddress(remote)
  const established = Deferred.makeUnsafe<void, NetError>()
  const slot = makeReadableSlot()
  let readWaiter: ((e: Effect.Effect<Uint8Array, NetError>) => void) | undefined
  let drainWaiters: Array<(e: Effect.Effect<void, NetError>) => void> = []
  let closedLocally = false
  let closedError: ConnectionClosed | undefined
  const closed = () => (closedError ??= new ConnectionClosed({ address }))

  /** Why reads and writes fail now, if they do. */
  const failure = (c: Conn.UtpConn): NetError | undefined => {
    if (closedLocally) return closed()
    switch (c.closeReason) {
      case undefined:
        return undefined
      case "Closed":
        return closed()
      case "Reset":
        return new ConnectionReset({ address, detail: "reset by peer (uTP ST_RESET)" })
      case "Refused":
        return new ConnectRefused({ address })
      case "TimedOut":
        return c.phase === "Closed" && !Deferred.isDoneUnsafe(established)
          ? new ConnectTimeout({ address, timeoutMillis: connectTimeoutMillis })
          : new ConnectionReset({ address, detail: "uTP retransmissions timed out" })
    }
  }
  /** The reader's end: a reset or our own close at once, a FIN after the last byte. */
  const readEnd = (c: Conn.UtpConn): NetError | undefined => {
    const error = failure(c)
    if (error !== undefined && (closedLocally || c.closeReason !== "Closed")) return error
    return Conn.drainedToEnd(c) ? closed() : error
  }

  const pump = () => {
    const c = stream.conn
    if (c === undefined) return
    let took = slot.deliver(() => takeAll(c))
    const w = readWaiter
    if (w !== undefined) {
      const chunk = takeAll(c)
      if (chunk !== undefined) {
        took = true
        readWaiter = undefined
        w(Effect.succeed(chunk))
      }
    }
    if (took) Conn.readDone(c, io, hooks.now())
    const end = readEnd(c)
    if (end === undefined) return
    if (c.inboxHead >= c.inbox.length) slot.end(end)
    const r = readWaiter
    if (r !== undefined) {
      readWaiter = undefined
      r(Effect.fail(end))
    }
  }

  const wakeWriters = () => {
    const waiters = drainWaiters
    drainWaiters = []
    const c = stream.conn
    const error = c === undefined ? undefined : failure(c)
    for (const w of waiters) w(error === undefined ? Effect.void : Effect.fail(error))
  }

  const io: Conn.UtpIo = {
    send: hooks.send,
    connected: () => {
      Deferred.doneUnsafe(established, Effect.void)
      hooks.onConnected()
    },
    readable: pump,
    writable: wakeWriters,
    closed: (reason) => {
      const c = stream.conn
      if (c !== undefined && !Deferred.isDoneUnsafe(established)) {
        Deferred.doneUnsafe(established, Effect.fail(failure(c) ?? closed()))
      }
      pump()
      wakeWriters()
      hooks.onClosed(reason)
    }
  }

  const readable = (c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void): void => {
    slot.arm(c, e)
    pump()
  }

  const read: Effect.Effect<Uint8Array, NetError> = Effect.callback<Uint8Array, NetError>((resume) => {
    const c = stream.conn
    if (c === undefined) return resume(Effect.fail(closed()))
    const chunk = Conn.take(c)
    if (chunk !== undefined) {
      Conn.readDone(c, io, hooks.now())
      return resume(Effect.succeed(chunk))
    }
    const end = readEnd(c)
    if (end !== undefined) return resume(Effect.fail(end))
    readWaiter = resume
    return Effect.sync(() => {
      if (readWaiter === resume) readWaiter = undefined
    })
  })

  const offer = (chunks: ReadonlyArray<Uint8Array>): boolean => {
    const c = stream.conn
    if (c === undefined || failure(c) !== undefined) return false
    return Conn.write(c, io, chunks, hooks.now())
  }

  const drained: Effect.Effect<void, NetError> = Effect.callback<void, NetError>((resume) => {
    const c = stream.conn
    const error = c === undefined ? closed() : failure(c)
    if (error !== undefined) return resume(Effect.fail(error))
    if (c === undefined || !c.writerWaiting) return resume(Effect.void)
    drainWaiters.push(resume)
    return Effect.sync(() => {
      drainWaiters = drainWaiters.filter((w) => w !== resume)
    })
  })

  const writeV = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> =>
    Effect.suspend(() => {
      const c = stream.conn
      const error = c === undefined ? closed() : failure(c)
      if (error !== undefined) return Effect.fail(error)
      return offer(chunks) ? Effect.void : drained
    })

  const close = Effect.sync(() => {
    if (closedLocally) return
    closedLocally = true
    const c = stream.conn
    if (c !== undefined) Conn.close(c, io, hooks.now())
    pump()
    wakeWriters()
  })

  const connection: Connection = {
    remote,
    local,
    read,
    readable,
    write: (bytes) => writeV([bytes]),
    writeV,
    offer,
    drained,
    close,
    transport: "utp"
  }
  const stream: UtpStream = { io, connection, established, conn: undefined }
  return stream
}
