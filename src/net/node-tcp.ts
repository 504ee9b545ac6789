/**
 * TCP on node:net, through @effect/platform-node-shared's `NodeSocket.fromDuplex`
 * (pull-based reads that leave backpressure to the kernel, writes that wait
 * for 'drain'). We open the `net.Socket` ourselves so we know its addresses and
 * errno codes, and run our own accept queue instead of `SocketServer.run`
 * (which swallows handler failures and whose close waits for every accepted
 * connection to end).
 */
import * as NodeSocket from "@effect/platform-node-shared/NodeSocket"
import { Cause, Duration, Effect, Exit, Queue, Scope } from "effect"
import * as Socket from "effect/socket/Socket"
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
  open: Effect.Effect<Net.Socket, Socket.SocketError, Scope.Scope>,
  target: string,
  openTimeout: Duration.Duration | undefined
) {
  const scope = yield* Scope.Scope
  let sock: Net.Socket | undefined
  const captured = Effect.tap(open, (s) => Effect.sync(() => (sock = s)))
  const socket = yield* NodeSocket.fromDuplex(
    captured,
    openTimeout === undefined ? {} : { openTimeout }
  )
  const pull = yield* Socket.readerBytes(socket).pipe(
    Effect.mapError((e): NetError => {
      const reason = e.reason
      if (reason._tag === "SocketOpenError") {
        if (reason.kind === "Timeout") {
          return new ConnectTimeout({ address: target, timeoutMillis: Duration.toMillis(openTimeout ?? 0) })
        }
        if (errnoOf(reason.cause) === "ECONNREFUSED") return new ConnectRefused({ address: target })
        return new NetIoError({ op: "connect", address: target, detail: describeCause(reason.cause) })
      }
      return new NetIoError({ op: "connect", address: target, detail: e.message })
    })
  )
  const writer = yield* socket.writer
  if (sock === undefined) return yield* Effect.die("NodeNetwork: socket opened without a net.Socket")
  const conn: Net.Socket = sock
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

  const fromSocketError = (e: Socket.SocketError, op: "read" | "write"): NetError => {
    if (closedLocally) return closedError()
    const reason = e.reason
    switch (reason._tag) {
      case "SocketCloseError":
        return reason.code === 1000 ? closedError() : new ConnectionReset({ address, detail: "connection aborted" })
      case "SocketReadError":
      case "SocketWriteError": {
        const code = errnoOf(reason.cause)
        if (code !== undefined && RESET_CODES.has(code)) return new ConnectionReset({ address, detail: code })
        if (reason.cause instanceof Error && reason.cause.message === "socket closed") {
          return new ConnectionReset({ address, detail: "socket closed" })
        }
        return new NetIoError({ op, address, detail: describeCause(reason.cause) })
      }
      default:
        return new NetIoError({ op, address, detail: e.message })
    }
  }

  // Chunks of the last pulled batch not handed out yet (pull returns batches).
  let batch: ReadonlyArray<Uint8Array> = []
  let next = 0
  const read: Effect.Effect<Uint8Array, NetError> = Effect.suspend(() => {
    const chunk = batch[next]
    if (chunk !== undefined) {
      next++
      return Effect.succeed(chunk)
    }
    if (closedLocally) return Effect.fail(closedError())
    return pull.pipe(
      Effect.map((chunks) => {
        batch = chunks
        next = 1
        return chunks[0]
      }),
      Effect.mapError((e) => fromSocketError(e, "read"))
    )
  })

  // `readable`: chunks straight from the socket's buffer, no fiber hand-off per chunk. The
  // platform reader keeps the socket paused and reads only for a pending pull, so after the
  // handshake (the last pull) the buffer is ours; what that pull left in `batch` comes first.
  const slot = makeReadableSlot()
  let ended: NetError | undefined
  let listening = false
  const takeBuffered = (): Uint8Array | undefined => {
    if (next < batch.length) return batch[next++]
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
  const readable = (c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void): void => {
    if (closedLocally) return e(closedError())
    slot.arm(c, e)
    if (!listening) {
      listening = true
      conn.on("readable", pump)
      conn.on("end", () => endWith(closedError()))
      conn.on("error", (cause) => endWith(fromSocketError(new Socket.SocketError({ reason: new Socket.SocketReadError({ cause }) }), "read")))
      conn.on("close", () => endWith(closedLocally ? closedError() : new ConnectionReset({ address, detail: "socket closed" })))
      // An end that came before we listened.
      if (conn.readableEnded) ended ??= closedError()
      else if (conn.destroyed) ended ??= new ConnectionReset({ address, detail: "socket destroyed" })
    }
    pump()
  }

  // The platform writer waits forever on a socket that is already gone, so
  // check first; a socket that dies while we wait for 'drain' fails the wait.
  const writable = (): NetError | undefined => {
    if (closedLocally || conn.writableEnded) return closedError()
    if (conn.destroyed) return new ConnectionReset({ address, detail: "socket destroyed" })
    return undefined
  }
  const write = (bytes: Uint8Array): Effect.Effect<void, NetError> =>
    Effect.suspend(() => {
      const err = writable()
      if (err !== undefined) return Effect.fail(err)
      return writer.write(bytes).pipe(Effect.mapError((e) => fromSocketError(e, "write")))
    })
  const writeV = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> =>
    Effect.suspend(() => {
      const err = writable()
      if (err !== undefined) return Effect.fail(err)
      const [first, ...rest] = chunks
      if (first === undefined) return Effect.void
      return writer.writeAll([first, ...rest]).pipe(Effect.mapError((e) => fromSocketError(e, "write")))
    })
  // `offer` writes to the socket itself, as the platform writer does (`write` + cork), so
  // both keep call order; Node buffers what the kernel did not take and says when to wait.
  // `written` goes with the last chunk: stream writes complete in order, and Node calls a
  // write's callback once libuv is done with its buffer (written, or failed/destroyed).
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

  // `scope` is this connection's own child scope: closing it ends the writer
  // (FIN after pending data) and destroys the socket once flushed.
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
    return yield* Effect.callback<Net.Socket, Socket.SocketError>((resume) => {
      const s = Net.createConnection({ host: address.host, port: address.port, noDelay: true })
      pending = s
      s.once("connect", () => resume(Effect.succeed(s)))
      // stays attached: errors after connect are reported by the reader
      s.on("error", (cause) =>
        resume(Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause }) }))))
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
