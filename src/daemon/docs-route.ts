/**
 * `/api/docs`: the API reference page (Scalar, bundled with Effect, no CDN). Scalar's
 * script is a 3 MB module that costs about 29 MB of memory once loaded, so it is loaded on
 * the first visit rather than at start-up.
 */
import { Effect, Scope } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApiScalar } from "effect/http-api"
import { DaemonApi } from "./api.ts"

export const docsRoute = HttpRouter.use(Effect.fnUntraced(function*(router) {
  const scope = yield* Effect.scope
  const page = yield* Effect.cached(
    HttpRouter.toHttpEffect(HttpApiScalar.layer(DaemonApi, { path: "/api/docs" })).pipe(Scope.provide(scope))
  )
  yield* router.add("GET", "/api/docs", Effect.flatten(page))
}))
