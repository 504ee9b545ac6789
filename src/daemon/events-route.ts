/**
 * `GET /api/events`: server-sent events for live views. Each `torrents` event carries the
 * whole list of summaries (the same JSON as `GET /api/torrents`); one is sent at once, then
 * whenever the list changed: right after an add, remove or settings change, and at most
 * once a second for progress. A comment line every 15 s keeps proxies from closing it.
 */
import { Effect, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { refusedWithoutToken } from "./security.ts"
import { Daemon } from "./service.ts"
import { summaryOf } from "./views.ts"

const KEEP_ALIVE_TICKS = 15

export const eventsRoute = (token: string) =>
  HttpRouter.add("GET", "/api/events", (request) =>
    Effect.gen(function*() {
      const refused = refusedWithoutToken(request, token)
      if (refused !== undefined) return refused
      const daemon = yield* Daemon
      const snapshot = Effect.flatMap(daemon.entries, (entries) => Effect.forEach(entries, summaryOf)).pipe(
        Effect.map((summaries) => JSON.stringify(summaries))
      )
      const triggers = Stream.merge(
        Stream.merge(Stream.make("now" as const), daemon.changes.pipe(Stream.map(() => "change" as const))),
        Stream.tick("1 second").pipe(Stream.map(() => "tick" as const))
      )
      let last = ""
      let quiet = 0
      const body = triggers.pipe(
        Stream.mapEffect((trigger) =>
          Effect.map(snapshot, (json) => {
            if (json !== last) {
              last = json
              quiet = 0
              return `event: torrents\ndata: ${json}\n\n`
            }
            if (trigger === "tick" && ++quiet >= KEEP_ALIVE_TICKS) {
              quiet = 0
              return ": keep-alive\n\n"
            }
            return ""
          })
        ),
        Stream.filter((chunk) => chunk !== ""),
        Stream.encodeText
      )
      return HttpServerResponse.stream(body, {
        contentType: "text/event-stream",
        headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
      })
    }))
