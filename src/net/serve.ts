import { Cause, Effect, Exit, FiberSet, Scope } from "effect"
import type { NetError } from "./errors.ts"
import type { Connection, Listener } from "./Network.ts"

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
      const connection: Connection = { ...accepted, close: Effect.andThen(accepted.close, Scope.close(scope, Exit.void)) }
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
