/**
 * One HTTP request of a web seed, over `effect/http`'s `HttpClient` (keep-alive comes from
 * the platform client: the fetch implementation pools connections per origin).
 *
 * The body is written straight into the caller's buffer, whose size we chose (the bytes we
 * asked for): a server that sends more is cut off, never buffered.
 */
import { Clock, Duration, Effect, Stream } from "effect"
import { FetchHttpClient, HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { WebSeedError } from "./errors.ts"

export interface FetchOptions {
  /** Redirects followed before a 3xx counts as a failure. */
  readonly maxRedirects: number
  /** How long the reply's headers may take, and then each chunk of its body. */
  readonly timeout: Duration.Duration
  /** Longest `Retry-After` we honour. */
  readonly maxRetryAfter: Duration.Duration
}

/**
 * What to ask for.
 * - `range`: bytes `first`..`first + length - 1` of a file of `fileLength` bytes (BEP 19);
 * - none: the URL says which bytes (BEP 17's `piece` and `ranges`), the reply is a 200.
 */
export interface RangeRequest {
  readonly url: string
  readonly length: number
  readonly range: { readonly first: number; readonly fileLength: number } | null
}

/** `bytes first-last/total` (total may be `*`). */
export const parseContentRange = (value: string): { first: number; last: number; total: number | null } | undefined => {
  const m = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(value)
  if (m === null) return undefined
  const first = Number(m[1])
  const last = Number(m[2])
  const total = m[3] === "*" ? null : Number(m[3])
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) return undefined
  if (total !== null && (!Number.isSafeInteger(total) || last >= total)) return undefined
  return { first, last, total }
}

/** `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

const BODY_PEEK = 64

/** The first few bytes of a body as text (a BEP 17 503 names its wait there); the rest is dropped. */
const peekText = (res: HttpClientResponse.HttpClientResponse): Effect.Effect<string> => {
  let text = ""
  return Stream.runForEachWhile(res.stream, (chunk) =>
    Effect.sync(() => {
      text += new TextDecoder().decode(chunk.subarray(0, BODY_PEEK - text.length))
      return text.length < BODY_PEEK
    })).pipe(Effect.ignore, Effect.map(() => text))
}

/**
 * Fetches `req` into `into` from `at`, reporting the bytes received so far after each chunk
 * (`onProgress`, which may wait: the download rate limit). Succeeds once exactly
 * `req.length` bytes arrived.
 */
export const fetchInto = (
  client: HttpClient.HttpClient,
  req: RangeRequest,
  into: Uint8Array,
  at: number,
  options: FetchOptions,
  onProgress: (received: number) => Effect.Effect<void>
): Effect.Effect<void, WebSeedError> => {
  const fail = (reason: WebSeedError["reason"], detail: string, retryAfterMillis?: number) =>
    new WebSeedError({ reason, url: req.url, detail, ...(retryAfterMillis === undefined ? {} : { retryAfterMillis }) })
  const http = HttpClient.withScope(HttpClient.followRedirects(client, options.maxRedirects))
  const request = req.range === null
    ? HttpClientRequest.get(req.url)
    : HttpClientRequest.get(req.url).pipe(
      HttpClientRequest.setHeader("range", `bytes=${req.range.first}-${req.range.first + req.length - 1}`)
    )
  return Effect.gen(function*() {
    const res = yield* http.execute(request).pipe(
      Effect.mapError((e) => fail("Network", e.message)),
      Effect.timeoutOrElse({
        duration: options.timeout,
        orElse: () => Effect.fail(fail("Timeout", `no reply within ${Duration.format(options.timeout)}`))
      })
    )
    if (res.status < 200 || res.status >= 300) {
      const now = yield* Clock.currentTimeMillis
      let wait = parseRetryAfter(res.headers["retry-after"], now)
      // BEP 17: a busy seed answers 503 with the seconds to wait as its body.
      if (wait === undefined && req.range === null && res.status === 503) {
        const body = (yield* peekText(res)).trim()
        if (/^\d+$/.test(body)) wait = Number(body) * 1000
      }
      const capped = wait === undefined ? undefined : Math.min(wait, Duration.toMillis(options.maxRetryAfter))
      return yield* fail("Status", `HTTP status ${res.status}${capped === undefined ? "" : ` (retry after ${capped} ms)`}`, capped)
    }
    if (req.range !== null) {
      if (res.status === 206) {
        const header = res.headers["content-range"]
        const cr = header === undefined ? undefined : parseContentRange(header)
        const last = req.range.first + req.length - 1
        if (cr === undefined || cr.first !== req.range.first || cr.last !== last || (cr.total !== null && cr.total !== req.range.fileLength)) {
          return yield* fail("ContentRange", `asked for bytes ${req.range.first}-${last}/${req.range.fileLength}, got Content-Range ${header ?? "(none)"}`)
        }
      } else if (req.range.first !== 0 || req.length !== req.range.fileLength) {
        // A 200 is the whole file: usable only when that is what we asked for.
        return yield* fail("NoRange", `HTTP status ${res.status} to a Range request`)
      }
    }
    let received = 0
    yield* res.stream.pipe(
      Stream.mapError((e) => fail("Network", e.message)),
      Stream.timeoutOrElse({
        duration: options.timeout,
        orElse: () => Stream.fail(fail("Timeout", `no data for ${Duration.format(options.timeout)}`))
      }),
      Stream.runForEach((chunk) => {
        if (received + chunk.length > req.length) return Effect.fail(fail("Body", `more than the ${req.length} bytes asked for`))
        into.set(chunk, at + received)
        received += chunk.length
        return onProgress(received)
      })
    )
    if (received !== req.length) return yield* fail("Body", `${received} of ${req.length} bytes before the body ended`)
  }).pipe(
    Effect.scoped,
    // fetch follows redirects itself unless told not to; followRedirects counts them instead.
    Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
  )
}
