/**
 * `GET /api/torrents/{infoHash}/trace`: the torrent's trace file (JSON lines, docs/TRACE.md),
 * as written so far; its last lines may still be in the writer's buffer for up to a second.
 * The file is the daemon's, never a path from the request.
 */
import { Effect, Option } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { plainText, refusedWithoutToken } from "./security.ts"
import { Daemon } from "./service.ts"


export const traceRoute = (token: string) =>
  HttpRouter.add("GET", "/api/torrents/:infoHash/trace", (request) =>
    Effect.gen(function*() {
      const refused = refusedWithoutToken(request, token)
      if (refused !== undefined) return refused
      const params = yield* HttpRouter.params
      const daemon = yield* Daemon
      const found = yield* daemon.trace(params["infoHash"] ?? "").pipe(Effect.option)
      if (Option.isNone(found)) return plainText(404, "no such torrent")
      if (Option.isNone(found.value)) return plainText(404, "no trace yet: turn it on with PUT /api/torrents/{infoHash}/trace")
      const { size, bytes } = found.value.value
      return HttpServerResponse.stream(bytes, { status: 200, contentType: "application/x-ndjson", contentLength: size, headers: { "cache-control": "no-store" } })
    }))
