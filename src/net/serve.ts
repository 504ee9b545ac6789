import { Cause, Effect, Exit, FiberSet, Scope } from "effect"
import type { NetError } from "./errors.ts"
import type { Address, Connection, Listener } from "./Network.ts"

/**
 * An accepted connection whose `close` also closes the scope it was accepted in. Delegates
 * from its prototype, not a copy of the connection's members: a connection may keep its
 * methods on its prototype (node-tcp.ts), and a copy per connection costs memory (issue 15).
 */
class Served implements Connection {
  readonly remote: Address
  readonly local: Address
  readonly transport?: string
  readonly whenDrained?: (wake: () => void) => NetError | (() => void) | undefined
  private readonly inner: Connection
  private readonly scope: Scope.Closeable
  constructor(inner: Connection, scope: Scope.Closeable) {
    this.inner = inner
    this.scope = scope
    this.remote = inner.remote
    this.local = inner.local
    if (inner.transport !== undefined) this.transport = inner.transport
    if (inner.whenDrained !== undefined) this.whenDrained = inner.whenDrained
  }
  get read(): Effect.Effect<Uint8Array, NetError> {
    return this.inner.read
  }
  readable(consumer: (chunk: Uint8Array, lent?: boolean) => boolean, onEnd: (error: NetError) => void, borrows?: boolean): void {
    this.inner.readable(consumer, onEnd, borrows)
  }
  write(bytes: Uint8Array): Effect.Effect<void, NetError> {
    return this.inner.write(bytes)
  }
  writeV(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> {
    return this.inner.writeV(chunks)
  }
  offer(chunks: ReadonlyArray<Uint8Array>, written?: () => void): boolean {
    return this.inner.offer(chunks, written)
  }
  get drained(): Effect.Effect<void, NetError> {
    return this.inner.drained
  }
  get close(): Effect.Effect<void> {
    return Effect.andThen(this.inner.close, Scope.close(this.scope, Exit.void))
  }
}

/**
 * Accept loop: each connection gets its own fiber and its own scope. The handler owns the
 * connection: it closes it when done with it, now or later (it may hand the connection to
 * a fiber of its own and return, so an accepted peer costs no fiber waiting for its
 * session). The handler must handle its errors (its error type is `never`); a defect is
 * logged at Error level with the peer address, never silently dropped, closes that
 * connection and never takes the listener down. Runs until interrupted (then every handler
 * is interrupted and every connection still open is closed) or until the listener fails.
 */
export const serve = <R>(
  listener: Listener,
  handler: (connection: Connection) => Effect.Effect<void, never, R>
): Effect.Effect<never, NetError, R> =>
  Effect.scoped(Effect.gen(function*() {
    const outer = yield* Scope.Scope
    // connections' scopes close only after every handler fiber was interrupted
    const connections = yield* Scope.fork(outer)
    const fibers = yield* FiberSet.make<void, never>()
    while (true) {
      const scope = yield* Scope.fork(connections)
      const accepted = yield* listener.accept.pipe(Scope.provide(scope))
      // closing the connection also closes (and drops) the scope it was accepted in
      const connection: Connection = new Served(accepted, scope)
      yield* FiberSet.run(
        fibers,
        handler(connection).pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.logError("connection handler died", cause).pipe(
                Effect.annotateLogs({ remote: `${connection.remote.host}:${connection.remote.port}` }),
                Effect.andThen(connection.close)
              )
          )
        )
      )
    }
  }))
