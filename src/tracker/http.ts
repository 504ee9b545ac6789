/** HTTP(S) trackers over `effect/http`'s HttpClient. */
import { Duration, Effect, Result, Stream } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import * as Codec from "./http-codec.ts"
import type { AnnounceRequest, AnnounceResponse, ScrapeEntry, TrackerError } from "./types.ts"
import { TrackerFailure, TrackerProtocolError, TrackerUnreachable, TrackerRequestError } from "./types.ts"

export interface HttpTrackerConfig {
  readonly timeout: Duration.Duration
  /** Bodies larger than this are refused without being buffered. */
  readonly maxResponseBytes: number
}

const fromParseError = (url: string, e: Codec.ParseError): TrackerError =>
  e._tag === "Failure" ? new TrackerFailure({ url, reason: e.reason }) : new TrackerProtocolError({ url, detail: e.detail })

export const makeHttpTracker = Effect.fnUntraced(function*(config: HttpTrackerConfig) {
  const client = yield* HttpClient.HttpClient
  // BEP 3: a tracker id, once given, is sent back on every later announce to that tracker.
  const trackerIds = new Map<string, string>()

  const fetch = (url: string, requestUrl: string): Effect.Effect<{ status: number; body: Uint8Array }, TrackerError> =>
    Effect.gen(function*() {
      // The query is already percent-encoded byte by byte: pass it verbatim, no urlParams.
      const res = yield* client.execute(HttpClientRequest.get(requestUrl))
      const declared = Number(res.headers["content-length"] ?? "0")
      if (declared > config.maxResponseBytes) {
        return yield* new TrackerProtocolError({ url, detail: `response of ${declared} bytes exceeds ${config.maxResponseBytes}` })
      }
      const chunks: Array<Uint8Array> = []
      let size = 0
      yield* Stream.runForEach(res.stream, (chunk) => {
        size += chunk.length
        if (size > config.maxResponseBytes) {
          return Effect.fail(new TrackerProtocolError({ url, detail: `response exceeds ${config.maxResponseBytes} bytes` }))
        }
        chunks.push(chunk)
        return Effect.void
      })
      const body = new Uint8Array(size)
      let at = 0
      for (const c of chunks) {
        body.set(c, at)
        at += c.length
      }
      return { status: res.status, body }
    }).pipe(
      Effect.catchTag("HttpClientError", (e) =>
        Effect.fail(
          e.reason._tag === "InvalidUrlError"
            ? new TrackerRequestError({ url, detail: e.message })
            : new TrackerUnreachable({ url, detail: e.message })
        )),
      Effect.timeoutOrElse({
        duration: config.timeout,
        orElse: () => Effect.fail(new TrackerUnreachable({ url, detail: `no answer within ${Duration.format(config.timeout)}` }))
      })
    )

  /**
   * A `failure reason` wins whatever the status (some trackers send it with
   * 4xx); otherwise a non-2xx status is an unreachable tracker.
   */
  const interpret = <A>(url: string, status: number, body: Uint8Array, parse: (b: Uint8Array) => Result.Result<A, Codec.ParseError>) => {
    const parsed = parse(body)
    if (Result.isSuccess(parsed)) {
      return status >= 200 && status < 300
        ? Effect.succeed(parsed.success)
        : Effect.fail(new TrackerUnreachable({ url, detail: `HTTP status ${status}` }))
    }
    if (parsed.failure._tag === "Failure" || (status >= 200 && status < 300)) return Effect.fail(fromParseError(url, parsed.failure))
    return Effect.fail(new TrackerUnreachable({ url, detail: `HTTP status ${status}` }))
  }

  const announce = (url: string, req: AnnounceRequest): Effect.Effect<AnnounceResponse, TrackerError> =>
    Effect.gen(function*() {
      const { status, body } = yield* fetch(url, Codec.announceUrl(url, req, trackerIds.get(url)))
      const response = yield* interpret(url, status, body, Codec.parseAnnounce)
      if (response.trackerId !== undefined) trackerIds.set(url, response.trackerId)
      return response
    })

  const scrape = (url: string, infoHashes: ReadonlyArray<Uint8Array>): Effect.Effect<ReadonlyArray<ScrapeEntry>, TrackerError> =>
    Effect.gen(function*() {
      const base = Codec.scrapeBase(url)
      if (base === undefined) return yield* new TrackerRequestError({ url, detail: "tracker does not support scrape (BEP 48)" })
      const { status, body } = yield* fetch(url, Codec.scrapeUrl(base, infoHashes))
      return yield* interpret(url, status, body, (b) => Codec.parseScrape(b, infoHashes))
    })

  return { announce, scrape } as const
})
