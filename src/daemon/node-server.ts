/**
 * Effect's `HttpServer` on `node:http`, through the web handler Effect provides
 * (`HttpEffect.toWebHandlerWith`): a Node request becomes a web `Request` (its body a
 * stream, aborted when the client goes away), the response a web `Response` written back
 * as it streams. The package depends on `@effect/platform-node-shared` only, which has no
 * HTTP server; this is the few lines that would otherwise pull in `@effect/platform-node`
 * (and undici, ws and redis with it).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import { Effect, Layer, Result, type Scope } from "effect"
import { HttpEffect, HttpServer, type HttpServerRequest } from "effect/http"
import * as NetAddress from "effect/net/NetAddress"
import { DaemonError } from "./errors.ts"

const toWebRequest = (req: IncomingMessage, signal: AbortSignal): Request => {
  const headers = new Headers()
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(`http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`, {
    method: req.method ?? "GET",
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: "half" } : {})
  } as RequestInit)
}

const writeResponse = (response: Response, res: ServerResponse): void => {
  const headers: Record<string, string | Array<string>> = {}
  response.headers.forEach((value, name) => {
    headers[name] = name === "set-cookie" ? response.headers.getSetCookie() : value
  })
  res.writeHead(response.status, response.statusText, headers)
  if (response.body === null) {
    res.end()
    return
  }
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>)
  body.on("error", () => res.destroy())
  res.on("close", () => body.destroy())
  body.pipe(res)
}

/** An `HttpServer` listening on `host:port` (port 0: any free port); closed with its scope. */
export const layer = (options: { readonly host: string; readonly port: number }) =>
  Layer.effect(
    HttpServer.HttpServer,
    Effect.gen(function*() {
      const server = createServer()
      yield* Effect.acquireRelease(
        Effect.callback<void, DaemonError>((resume) => {
          server.once("error", (e) => resume(Effect.fail(new DaemonError({ reason: "Config", detail: `cannot listen on ${options.host}:${options.port}: ${e.message}` }))))
          server.listen(options.port, options.host, () => resume(Effect.void))
        }),
        () =>
          Effect.callback<void>((resume) => {
            server.close(() => resume(Effect.void))
            // keep-alive and streaming responses (event streams) would hold close() forever
            server.closeAllConnections()
          })
      )
      const info = server.address() as AddressInfo
      const address = Result.getOrElse(
        NetAddress.inetAddressFromIpString(info.address, info.port),
        () => NetAddress.unixPathAddress(`${info.address}:${info.port}`)
      )
      return HttpServer.make({
        address,
        serve: (httpEffect, middleware) =>
          Effect.gen(function*() {
            const context = yield* Effect.context<never>()
            const handler = HttpEffect.toWebHandlerWith<never, HttpServerRequest.HttpServerRequest | Scope.Scope>(context)(httpEffect, middleware)
            const onRequest = (req: IncomingMessage, res: ServerResponse) => {
              const abort = new AbortController()
              res.on("close", () => {
                if (!res.writableFinished) abort.abort()
              })
              handler(toWebRequest(req, abort.signal)).then(
                (response) => writeResponse(response, res),
                () => {
                  res.statusCode = 500
                  res.end()
                }
              )
            }
            server.on("request", onRequest)
            yield* Effect.addFinalizer(() => Effect.sync(() => server.off("request", onRequest)))
          })
      })
    })
  )
