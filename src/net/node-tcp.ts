/**
 * TCP on node:net: reads from the paused stream's buffer (`readable` + `read()`,
 * backpressure left to the kernel), writes that wait for 'drain'. We use the
 * `net.Socket` directly, not through @effect/platform-node-shared's
 * `NodeSocket.fromDuplex`: its reader and writer (scopes, a latch, a pull) were a
 * few KiB of every idle connection, and after the handshake a session read and
 * wrote the socket directly anyway (issue 15). We also run our own accept queue
 * instead of `SocketServer.run` (which swallows handler failures and whose close
 * waits for every accepted connection to end).
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

/**
 * Wraps an open (connected) `net.Socket` as a `Connection` whose resources live
 * in `scope`. `open` must hand over a socket that is released with the scope.
 */
const makeConnection = Effect.fnUntraced(function*(
  open: Effect.Effect<Net.Socket, NetError, Scope.Scope>,
  target: string,
  openTimeout: Duration.Duration | undefined
) {
  const scope = yield* Scope.Scope
  const conn: Net.Socket = yield* (openTimeout === undefined ? open : open.pipe(
    Effect.timeoutOrElse({
      duration: openTimeout,
      orElse: () => Effect.fail(new ConnectTimeout({ address: target, timeoutMillis: Duration.toMillis(openTimeout) }))
    })
  ))
  // a dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d
  const remote: Address = { host: unmapIpv4(conn.remoteAddress ?? ""), port: conn.remotePort ?? 0 }
  const local: Address = { host: unmapIpv4(conn.localAddress ?? ""), port: conn.localPort ?? 0 }
  const address = formatAddress(remote)

  // Set when our side closed: later failures are "closed", not "reset".
  let closedLocally = false
  yield* Scope.addFinalizer(scope, Effect.sync(() => (closedLocally = true)))
  // Made when first needed: a schema-backed error costs a validation to construct (the first
  // in a process also builds its parser), which a connection that never closes need not pay.
  let closedErrorMemo: ConnectionClosed | undefined
  const closedError = (): ConnectionClosed => (closedErrorMemo ??= new ConnectionClosed({ address }))

  const fromError = (cause: unknown, op: "read" | "write"): NetError => {
    if (closedLocally) return closedError()
    const code = errnoOf(cause)
    if (code !== undefined && RESET_CODES.has(code)) return new ConnectionReset({ address, detail: code })
    return new NetIoError({ op, address, detail: describeCause(cause) })
  }

  // Reads: chunks straight from the socket's buffer (`readable` + `read()`, the stream stays
  // paused), no fiber hand-off per chunk. Node reads ahead only up to its highWaterMark, so a
  // consumer that stops leaves the bytes in the kernel and TCP pushes back on the peer.
  const slot = makeReadableSlot()
  let ended: NetError | undefined
  const takeBuffered = (): Uint8Array | undefined => {
    const chunk: Uint8Array | null = conn.read()
    return chunk ?? undefined
  }
  const pump = () => {
    slot.deliver(takeBuffered)
    if (ended !== undefined) slot.end(ended)
  }
  const endWith = (error: NetError) => {
    ended ??= error
    pump()
  }
  conn.on("readable", pump)
  conn.on("end", () => endWith(closedError()))
  conn.on("error", (cause) => endWith(fromError(cause, "read")))
  conn.on("close", () => endWith(closedLocally ? closedError() : new ConnectionReset({ address, detail: "socket closed" })))
  // An end that came before we listened.
  if (conn.readableEnded) ended ??= closedError()
  else if (conn.destroyed) ended ??= new ConnectionReset({ address, detail: "socket destroyed" })

  const readable = (c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void): void => {
    if (closedLocally) return e(closedError())
    slot.arm(c, e)
    pump()
  }
  // One chunk: `readable` for a single delivery (interrupted, it stops listening).
  const read: Effect.Effect<Uint8Array, NetError> = Effect.callback<Uint8Array, NetError>((resume) => {
    readable((chunk) => {
      resume(Effect.succeed(chunk))
      return false
    }, (error) => resume(Effect.fail(error)))
    return Effect.sync(slot.disarm)
  })

  // A socket that is already gone fails a write at once; one that dies while we wait for
  // 'drain' fails the wait.
  const writable = (): NetError | undefined => {
    if (closedLocally || conn.writableEnded) return closedError()
    if (conn.destroyed) return new ConnectionReset({ address, detail: "socket destroyed" })
    return undefined
  }
  // `offer` writes to the socket itself (`write` + cork), in call order with every other
  // write; Node buffers what the kernel did not take and says when to wait. `written` goes
  // with the last chunk: stream writes complete in order, and Node calls a write's callback
  // once libuv is done with its buffer (written, or failed/destroyed).
  const offer = (chunks: ReadonlyArray<Uint8Array>, written?: () => void): boolean => {
    if (writable() !== undefined) {
      written?.()
      return false
    }
    const last = chunks.length - 1
    if (last < 1) return conn.write(chunks[0] ?? EMPTY, written)
    conn.cork()
    for (let i = 0; i < last; i++) conn.write(chunks[i] ?? EMPTY)
    conn.write(chunks[last] ?? EMPTY, written)
    conn.uncork()
    return !conn.writableNeedDrain
  }
  const drained: Effect.Effect<void, NetError> = Effect.suspend(() => {
    const err = writable()
    if (err !== undefined) return Effect.fail(err)
    if (!conn.writableNeedDrain) return Effect.void
    return Effect.callback<void, NetError>((resume) => {
      const done = (effect: Effect.Effect<void, NetError>) => () => {
        cleanup()
        resume(effect)
      }
      const onDrain = done(Effect.void)
      const onClose = done(Effect.suspend(() => Effect.fail(writable() ?? new ConnectionReset({ address, detail: "socket closed" }))))
      const cleanup = () => {
        conn.off("drain", onDrain)
        conn.off("close", onClose)
      }
      conn.on("drain", onDrain)
      conn.on("close", onClose)
      return Effect.sync(cleanup)
    })
  })
  // `write`/`writeV` complete once the send buffer has room: a slow peer suspends the writer.
  const writeV = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> =>
    Effect.suspend(() => {
      const err = writable()
      if (err !== undefined) return Effect.fail(err)
      return offer(chunks) ? Effect.void : drained
    })
  const write = (bytes: Uint8Array): Effect.Effect<void, NetError> => writeV([bytes])

  // `scope` is this connection's own child scope: closing it ends the socket (FIN after
  // pending data) and destroys it once flushed (`releaseSocket`).
  const close = Effect.suspend(() => {
    closedLocally = true
    return Scope.close(scope as Scope.Closeable, Exit.void)
  })
  return { remote, local, read, readable, write, writeV, offer, drained, close } satisfies Connection
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

const releaseSocket = (s: Net.Socket) =>
  Effect.sync(() => {
    if (s.destroyed) return
    // destroySoon = end() then destroy once the write buffer is flushed
    if (s.writable) s.destroySoon()
    else s.destroy()
  })

export const connect = (address: Address, options?: ConnectOptions): Effect.Effect<Connection, NetError, Scope.Scope> => {
  const target = formatAddress(address)
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? DEFAULT_CONNECT_TIMEOUT)
  // Not acquireRelease: its acquire is uninterruptible and the timeout must be
  // able to abandon a pending connect. The finalizer is registered first instead.
  const open = Effect.gen(function*() {
    let pending: Net.Socket | undefined
    yield* Effect.addFinalizer(() => pending === undefined ? Effect.void : releaseSocket(pending))
    return yield* Effect.callback<Net.Socket, NetError>((resume) => {
      const s = Net.createConnection({ host: address.host, port: address.port, noDelay: true })
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
  return inChildScope(makeConnection(open, target, timeout))
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
      inChildScope(makeConnection(Effect.acquireRelease(Effect.succeed(s), releaseSocket), target, undefined)))
    return { address: boundAddress, accept } satisfies Listener
  })
