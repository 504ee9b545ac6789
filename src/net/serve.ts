import { Cause, Effect, Exit, FiberSet, Scope } from "effect"
import type { NetError } from "./errors.ts"
import type { Connection, Listener } from "./Network.ts"

/**
 * Accept loop: each connection gets its own fiber and its own scope (closed
 * when the handler ends). The handler must handle its errors (its error type is
 * `never`); a defect is logged at Error level with the peer address, never
 * silently dropped, and never takes the listener down. Runs until interrupted
 * (then every handler is interrupted and every connection closed) or until
 * the listener fails.
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
      const connection = yield* listener.accept.pipe(Scope.provide(scope))
      yield* FiberSet.run(
        fibers,
        handler(connection).pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.logError("connection handler died", cause).pipe(
                Effect.annotateLogs({ remote: `${connection.remote.host}:${connection.remote.port}` })
              )
          ),
          Effect.ensuring(Scope.close(scope, Exit.void))
        )
      )
    }
  }))
