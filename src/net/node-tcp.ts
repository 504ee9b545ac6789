/**
 * TCP on node:net. Outgoing sockets read into one shared buffer (`onread`, see
 * READ_BUFFER); accepted ones read from the paused stream (`readable` + `read()`); both
 * leave backpressure to the kernel, and writes wait for 'drain'. We use `net.Socket`
 * directly, not @effect/platform-node-shared's `NodeSocket.fromDuplex`, whose reader and
 * writer were a few KiB of every idle connection (issue 15), and our own accept queue
 * instead of `SocketServer.run` (it swallows handler failures, and its close waits for
 * every accepted connection to end).
 */
import { Cause, Duration, Effect, Exit, Queue, Scope } from "effect"
import * as Net from "node:net"
import {
  AddressInUse,
  ConnectionClosed,
  ConnectionReset,
  ConnectRefused,
  ConnectTimeout,
  type NetError,
  NetIoError
} from "./errors.ts"
import { describeCause, errnoOf } from "../errno.ts"
import { ANY_HOST, ANY_IPV4, formatAddress, NO_IPV6_ERRNOS, unmapIpv4 } from "./address.ts"
import type { Address, ConnectOptions, Connection, Listener } from "./Network.ts"
import { makeReadableSlot } from "./readable.ts"

const DEFAULT_CONNECT_TIMEOUT = Duration.seconds(10)
/** Connections waiting for `accept`; more than this and new ones are refused (closed). */
const ACCEPT_BACKLOG = 128

const RESET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT", "ERR_STREAM_DESTROYED"])

const noop = () => {}
const EMPTY = new Uint8Array(0)

/** The connection of a socket, for the socket's listeners (see `TcpConnection`). */
const owners = new WeakMap<Net.Socket, TcpConnection>()
function onReadable(this: Net.Socket): void {
  owners.get(this)?.pump()
}

/**
 * The read buffer of every outgoing connection (`onread`): reads run one at a time on the
 * event loop, and a consumer that borrows is done with a chunk when it returns, so one buffer
 * serves them all. A stream read allocates a fresh 64 KiB buffer instead, and that churn
 * (1 GiB of buffers per GiB leeched) drove most of a leecher's major GCs: a heap of 25 MB
 * marked 12 to 35 times a GiB, the GC threads a third of its CPU (issue 15).
 */
// A Uint8Array, not a Buffer: its views' `slice` copies (a Buffer's `slice` is a view).
const READ_BUFFER = new Uint8Array(64 * 1024)
/** What arrived on an outgoing socket before its connection was made (copies). */
const early = new WeakMap<Net.Socket, Array<Uint8Array>>()
function onRead(this: Net.Socket, nread: number, buffer: Uint8Array): boolean {
  const chunk = buffer.subarray(0, nread)
  const c = owners.get(this)
  if (c !== undefined) return c.received(chunk)
  const before = early.get(this)
  if (before === undefined) early.set(this, [chunk.slice()])
  else before.push(chunk.slice())
  return true
}
function onEnd(this: Net.Socket): void {
  const c = owners.get(this)
  c?.endWith(c.closedError())
}
function onError(this: Net.Socket, cause: Error): void {
  const c = owners.get(this)
  c?.endWith(c.fromError(cause, "read"))
}
function onClose(this: Net.Socket): void {
  const c = owners.get(this)
  c?.endWith(c.closedLocally ? c.closedError() : new ConnectionReset({ address: c.address, detail: "socket closed" }))
}

/**
 * A `Connection` over an open `net.Socket`. A class, with one set of socket listeners for
 * every socket (they find their connection in `owners`), and `read`, `drained` and
 * `close` made when asked for: an idle peer is mostly its connection, and closures per
 * connection (twenty-odd, with their contexts and effects) were about 1.5 KiB of it (issue 15).
 * Call its methods on it, never detached.
 */
class TcpConnection implements Connection {
  readonly remote: Address
  readonly local: Address
  readonly address: string
  /** Set when our side closed: later failures are "closed", not "reset". */
  closedLocally = false
  // Made when first needed: a schema-backed error costs a validation to construct (the first
  // in a process also builds its parser), which a connection that never closes need not pay.
  private closedErrorMemo: ConnectionClosed | undefined = undefined
  private ended: NetError | undefined = undefined
  private readonly slot = makeReadableSlot()
  private readonly takeBuffered: () => Uint8Array | undefined
  private readonly socket: Net.Socket
  private readonly scope: Scope.Scope
  /**
   * A socket that reads into `READ_BUFFER` (`onread`, outgoing connections): chunks that
   * found no consumer, copied, in order; and whether reading stopped for want of one.
   */
  private readonly waiting: Array<Uint8Array> | undefined
  private stopped = false

  constructor(socket: Net.Socket, scope: Scope.Scope, lends = false) {
    this.socket = socket
    this.scope = scope
    // a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d
    this.remote = { host: unmapIpv4(socket.remoteAddress ?? ""), port: socket.remotePort ?? 0 }
    this.local = { host: unmapIpv4(socket.localAddress ?? ""), port: socket.localPort ?? 0 }
    this.address = formatAddress(this.remote)
    owners.set(socket, this)
    if (lends) {
      const waiting = early.get(socket) ?? []
      early.delete(socket)
      this.waiting = waiting
      this.takeBuffered = () => waiting.shift()
    } else {
      this.waiting = undefined
      this.takeBuffered = () => {
        const chunk: Uint8Array | null = socket.read()
        return chunk ?? undefined
      }
      // Reads: chunks straight from the socket's buffer (`readable` + `read()`, the stream
      // stays paused), no fiber hand-off per chunk. Node reads ahead only up to its
      // highWaterMark, so a consumer that stops leaves the bytes in the kernel and TCP
      // pushes back on the peer.
      socket.on("readable", onReadable)
    }
    socket.on("end", onEnd)
    socket.on("error", onError)
    socket.on("close", onClose)
    // An end that came before we listened.
    if (socket.readableEnded) this.ended = this.closedError()
    else if (socket.destroyed) this.ended = new ConnectionReset({ address: this.address, detail: "socket destroyed" })
  }

  closedError(): ConnectionClosed {
    return (this.closedErrorMemo ??= new ConnectionClosed({ address: this.address }))
  }

  fromError(cause: unknown, op: "read" | "write"): NetError {
    if (this.closedLocally) return this.closedError()
    const code = errnoOf(cause)
    if (code !== undefined && RESET_CODES.has(code)) return new ConnectionReset({ address: this.address, detail: code })
    return new NetIoError({ op, address: this.address, detail: describeCause(cause) })
  }

  pump(): void {
    this.slot.deliver(this.takeBuffered)
    const waiting = this.waiting
    if (waiting !== undefined && waiting.length > 0) return
    if (this.ended !== undefined) return this.slot.end(this.ended)
    // an `onread` socket that stopped for want of a consumer reads on once one is armed
    if (this.stopped && this.slot.armed()) {
      this.stopped = false
      this.socket.resume()
    }
  }

  /**
   * A chunk of `READ_BUFFER` (an `onread` socket): lent to an armed consumer, else kept as
   * a copy. False stops reading (Node's `onread` contract) until `pump` resumes it.
   */
  received(chunk: Uint8Array): boolean {
    const waiting = this.waiting
    if (waiting === undefined) return true
    if (waiting.length === 0 && this.slot.armed()) {
      // taken; read on unless the consumer stopped
      if (this.slot.lend(chunk)) return true
    } else {
      waiting.push(chunk.slice())
    }
    this.stopped = true
    return false
  }

  endWith(error: NetError): void {
    this.ended ??= error
    this.pump()
  }

  readable(c: (chunk: Uint8Array, lent?: boolean) => boolean, e: (error: NetError) => void, borrows?: boolean): void {
    if (this.closedLocally) return e(this.closedError())
    this.slot.arm(c, e, borrows)
    this.pump()
  }

  /** One chunk: `readable` for a single delivery (interrupted, it stops listening). */
  get read(): Effect.Effect<Uint8Array, NetError> {
    return Effect.callback<Uint8Array, NetError>((resume) => {
      this.readable((chunk) => {
        resume(Effect.succeed(chunk))
        return false
      }, (error) => resume(Effect.fail(error)))
      return Effect.sync(() => this.slot.disarm())
    })
  }

  // A socket that is already gone fails a write at once; one that dies while we wait for
  // 'drain' fails the wait.
  private writable(): NetError | undefined {
    if (this.closedLocally || this.socket.writableEnded) return this.closedError()
    if (this.socket.destroyed) return new ConnectionReset({ address: this.address, detail: "socket destroyed" })
    return undefined
  }

  // `offer` writes to the socket itself (`write` + cork), in call order with every other
  // write; Node buffers what the kernel did not take and says when to wait. `written` goes
  // with the last chunk: stream writes complete in order, and Node calls a write's callback
  // once libuv is done with its buffer (written, or failed/destroyed).
  offer(chunks: ReadonlyArray<Uint8Array>, written?: () => void): boolean {
    if (this.writable() !== undefined) {
      written?.()
      return false
    }
    const conn = this.socket
    const last = chunks.length - 1
    if (last < 1) return conn.write(chunks[0] ?? EMPTY, written)
    conn.cork()
    for (let i = 0; i < last; i++) conn.write(chunks[i] ?? EMPTY)
    conn.write(chunks[last] ?? EMPTY, written)
    conn.uncork()
    return !conn.writableNeedDrain
  }

  get drained(): Effect.Effect<void, NetError> {
    return Effect.suspend(() => {
      const err = this.writable()
      if (err !== undefined) return Effect.fail(err)
      const conn = this.socket
      if (!conn.writableNeedDrain) return Effect.void
      return Effect.callback<void, NetError>((resume) => {
        const done = (effect: Effect.Effect<void, NetError>) => () => {
          cleanup()
          resume(effect)
        }
        const onDrain = done(Effect.void)
        const onClosed = done(Effect.suspend(() => Effect.fail(this.writable() ?? new ConnectionReset({ address: this.address, detail: "socket closed" }))))
        const cleanup = () => {
          conn.off("drain", onDrain)
          conn.off("close", onClosed)
        }
        conn.on("drain", onDrain)
        conn.on("close", onClosed)
        return Effect.sync(cleanup)
      })
    })
  }

  // `write`/`writeV` complete once the send buffer has room: a slow peer suspends the writer.
  writeV(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> {
    return Effect.suspend(() => {
      const err = this.writable()
      if (err !== undefined) return Effect.fail(err)
      return this.offer(chunks) ? Effect.void : this.drained
    })
  }

  write(bytes: Uint8Array): Effect.Effect<void, NetError> {
    return this.writeV([bytes])
  }

  // `scope` is this connection's own child scope: closing it ends the socket (FIN after
  // pending data) and destroys it once flushed (`releaseSocket`).
  get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closedLocally = true
      return Scope.close(this.scope as Scope.Closeable, Exit.void)
    })
  }
}

/**
 * Wraps an open (connected) `net.Socket` as a `Connection` whose resources live
 * in `scope`. `open` must hand over a socket that is released with the scope, or
 * (`release`) one the connection releases itself: one finalizer, not two (a scope with
 * two keeps a Map).
 */
const makeConnection = Effect.fnUntraced(function*(
  open: Effect.Effect<Net.Socket, NetError, Scope.Scope>,
  target: string,
  openTimeout: Duration.Duration | undefined,
  release = false,
  lends = false
) {
  const scope = yield* Scope.Scope
  const socket: Net.Socket = yield* (openTimeout === undefined ? open : open.pipe(
    Effect.timeoutOrElse({
      duration: openTimeout,
      orElse: () => Effect.fail(new ConnectTimeout({ address: target, timeoutMillis: Duration.toMillis(openTimeout) }))
    })
  ))
  const connection = new TcpConnection(socket, scope, lends)
  yield* Scope.addFinalizer(scope, Effect.sync(() => {
    connection.closedLocally = true
    if (release) releaseSocketNow(socket)
  }))
  return connection
})

/** Runs `make` in a child of the caller's scope, so `Connection.close` can close just that. */
const inChildScope = <A, E>(make: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Scope.Scope
    const child = yield* Scope.fork(parent)
    return yield* make.pipe(
      Scope.provide(child),
      Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(child, exit) : Effect.void)
    )
  })

const releaseSocketNow = (s: Net.Socket): void => {
  if (s.destroyed) return
  // destroySoon = end() then destroy once the write buffer is flushed
  if (s.writable) s.destroySoon()
  else s.destroy()
}
const releaseSocket = (s: Net.Socket) => Effect.sync(() => releaseSocketNow(s))

export const connect = (address: Address, options?: ConnectOptions): Effect.Effect<Connection, NetError, Scope.Scope> => {
  const target = formatAddress(address)
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? DEFAULT_CONNECT_TIMEOUT)
  // Not acquireRelease: its acquire is uninterruptible and the timeout must be
  // able to abandon a pending connect. The finalizer is registered first instead.
  const open = Effect.gen(function*() {
    let pending: Net.Socket | undefined
    yield* Effect.addFinalizer(() => pending === undefined ? Effect.void : releaseSocket(pending))
    return yield* Effect.callback<Net.Socket, NetError>((resume) => {
      const s = Net.createConnection({ host: address.host, port: address.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: onRead } })
      pending = s
      s.once("connect", () => resume(Effect.succeed(s)))
      // stays attached (a no-op once connected): the connection's own listener reports later errors
      s.on("error", (cause) =>
        resume(Effect.fail(
          errnoOf(cause) === "ECONNREFUSED"
            ? new ConnectRefused({ address: target })
            : new NetIoError({ op: "connect", address: target, detail: describeCause(cause) })
        )))
      return Effect.sync(() => s.destroy())
    })
  })
  return inChildScope(makeConnection(open, target, timeout, false, true))
}

export const listen = (address: Address): Effect.Effect<Listener, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    let target = formatAddress(address)
    const pending = yield* Queue.dropping<Net.Socket, NetError>(ACCEPT_BACKLOG)
    const server = Net.createServer({ noDelay: true })
    server.on("connection", (s) => {
      s.on("error", noop) // the reader reports errors once the connection is accepted
      s.pause()
      if (!Queue.offerUnsafe(pending, s)) s.destroy()
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        // Stop listening without waiting for accepted connections: they belong to other scopes.
        server.close()
        for (let e = Queue.takeUnsafe(pending); e !== undefined && Exit.isSuccess(e); e = Queue.takeUnsafe(pending)) {
          e.value.destroy()
        }
        Queue.failCauseUnsafe(pending, Cause.fail(new NetIoError({ op: "accept", address: target, detail: "listener closed" })))
      })
    )
    yield* Effect.callback<void, NetError>((resume) => {
      let host = address.host
      const onError = (cause: Error) => {
        // `::` on a machine without IPv6: listen on every IPv4 interface instead
        if (host === ANY_HOST && NO_IPV6_ERRNOS.has(errnoOf(cause) ?? "")) {
          host = ANY_IPV4
          server.once("error", onError)
          server.listen({ host, port: address.port }, onListening)
          return
        }
        resume(Effect.fail(
          errnoOf(cause) === "EADDRINUSE"
            ? new AddressInUse({ address: target })
            : new NetIoError({ op: "listen", address: target, detail: describeCause(cause) })
        ))
      }
      const onListening = () => {
        server.off("error", onError)
        server.on("error", noop)
        resume(Effect.void)
      }
      server.once("error", onError)
      server.listen({ host, port: address.port }, onListening)
    })
    const bound = server.address()
    const boundAddress: Address = typeof bound === "object" && bound !== null
      ? { host: bound.address, port: bound.port }
      : address
    target = formatAddress(boundAddress)
    // A socket reset while it waited in the queue never emits again: skip it.
    const takeLive: Effect.Effect<Net.Socket, NetError> = Effect.flatMap(
      Queue.take(pending),
      (s) => s.destroyed ? Effect.suspend(() => takeLive) : Effect.succeed(s)
    )
    const accept = Effect.flatMap(takeLive, (s) =>
      inChildScope(makeConnection(Effect.succeed(s), target, undefined, true)))
    return { address: boundAddress, accept } satisfies Listener
  })
