/**
 * The daemon's guards, all in one place:
 * - it binds 127.0.0.1 unless told otherwise, and refuses a non-loopback address without
 *   `--auth` (anyone on the network could otherwise add torrents and read files);
 * - with `--auth USER:PASS` every request needs those HTTP Basic credentials;
 * - without auth, a request must name a loopback host in `Host`: a foreign page that
 *   rebinds its own DNS name to 127.0.0.1 is refused (DNS rebinding);
 * - the native API needs the per-run token in a header (CSRF; see api.ts), the stream and
 *   event routes accept it as `?token=` too (a `<video>` or `EventSource` cannot set headers);
 * - request bodies are capped (`MaxBodySize`, and `Content-Length` is checked before reading);
 * - no CORS headers are ever sent, so browsers keep other origins out.
 */
import { timingSafeEqual } from "node:crypto"
import { ByteSize, Effect, type Layer } from "effect"
import { HttpMiddleware, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { isLoopback, parseAddress } from "../net/index.ts"
import { TOKEN_HEADER } from "./api.ts"
import { DaemonError } from "./errors.ts"

/** Request bodies larger than this are refused (a .torrent is rarely over a few MiB). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024

export interface Credentials {
  readonly user: string
  readonly password: string
}

/** Constant-time string comparison (for secrets). */
export const safeEqual = (a: string, b: string): boolean => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** `host:port` for `--http`; port 0 asks for any free port. */
export const parseListen = (text: string): { readonly host: string; readonly port: number } | undefined => {
  const zero = /:0$/.test(text)
  const parsed = parseAddress(zero ? text.replace(/:0$/, ":1") : text)
  return parsed === undefined ? undefined : { host: parsed.host, port: zero ? 0 : parsed.port }
}

export const parseAuth = (text: string): Credentials | undefined => {
  const colon = text.indexOf(":")
  return colon <= 0 || colon === text.length - 1 ? undefined : { user: text.slice(0, colon), password: text.slice(colon + 1) }
}


/** A public bind without credentials is refused before anything listens. */
export const checkBind = (host: string, auth: Credentials | undefined): Effect.Effect<void, DaemonError> =>
  isLoopback(host) || auth !== undefined
    ? Effect.void
    : Effect.fail(new DaemonError({ reason: "Config", detail: `refusing to listen on ${host} without --auth USER:PASS (anyone who can reach it could add torrents and read files)` }))

/** The host name of a `Host` header (`name`, `name:port`, `[v6]:port`). */
/** The host of a `Host` header: `host:port`, `[v6]:port`, or a bare host. */
const hostName = (header: string): string => parseAddress(header)?.host ?? header.replace(/^\[(.*)\]$/, "$1")

const basicOk = (header: string | undefined, auth: Credentials) => {
  if (header === undefined || !header.startsWith("Basic ")) return false
  const decoded = Buffer.from(header.slice(6), "base64").toString("utf8")
  const given = parseAuth(decoded)
  return given !== undefined && safeEqual(given.user, auth.user) && safeEqual(given.password, auth.password)
}

/** A plain-text answer: the refusals here, and the routes outside the HttpApi (stream, trace, events). */
export const plainText = (status: number, message: string, headers: Record<string, string> = {}) =>
  HttpServerResponse.text(message, { status, headers })

/**
 * Runs before every route: credentials (when configured), the Host check (when not), and
 * the body cap. Responses never carry CORS headers.
 */
export const guard = (options: { readonly auth: Credentials | undefined }): Layer.Layer<never, never, HttpRouter.HttpRouter> =>
  HttpRouter.middleware(
    HttpMiddleware.make((app) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        if (options.auth !== undefined) {
          if (!basicOk(request.headers["authorization"], options.auth)) {
            return plainText(401, "authentication required", { "www-authenticate": `Basic realm="effect-torrent"` })
          }
        } else if (!isLoopback(hostName(request.headers["host"] ?? ""))) {
          return plainText(403, "this daemon answers only to a loopback Host (start it with --auth to serve other names)")
        }
        const length = Number(request.headers["content-length"] ?? 0)
        if (length > MAX_BODY_BYTES) return plainText(413, `request bodies are limited to ${MAX_BODY_BYTES} bytes`)
        return yield* app.pipe(Effect.provideService(HttpServerRequest.MaxBodySize, ByteSize.bytes(MAX_BODY_BYTES)))
      })
    ),
    { global: true }
  )

/** For routes outside the HttpApi (stream, events): the token from the header or `?token=`. */
export const hasToken = (request: HttpServerRequest.HttpServerRequest, token: string): boolean => {
  const header = request.headers[TOKEN_HEADER]
  if (header !== undefined) return safeEqual(header, token)
  const query = new URL(request.url, "http://x").searchParams.get("token")
  return query !== null && safeEqual(query, token)
}

/** For routes outside the HttpApi: the 403 answer to a request without the token, else undefined. */
export const refusedWithoutToken = (request: HttpServerRequest.HttpServerRequest, token: string) =>
  hasToken(request, token) ? undefined : plainText(403, "missing or wrong token")
