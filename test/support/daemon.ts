/**
 * The daemon (`serveLayer`) in the caller's scope: real HTTP on 127.0.0.1, real files, a
 * real client listening for peers on 127.0.0.1, no DHT. `request` sends the API token.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { serveLayer, ServeInfo } from "../../src/daemon/server.ts"
import type { Credentials } from "../../src/daemon/security.ts"
import { eventually } from "./waiting.ts"

export interface RunningDaemon {
  readonly url: string
  readonly token: string
  readonly peerPort: number | null
  /** fetch with the token header; `path` starts with /. */
  readonly request: (path: string, init?: RequestInit) => Promise<Response>
  /** JSON of a token-carrying request that must succeed. */
  readonly json: <A = unknown>(path: string, init?: RequestInit) => Promise<A>
  /** Closes the daemon (like SIGTERM): HTTP server, torrents (resume data saved), client. */
  readonly stop: Effect.Effect<void>
}

export const startDaemon = (options: {
  readonly stateDirectory: string
  readonly downloadDirectory: string
  readonly http?: { readonly host: string; readonly port: number }
  readonly auth?: Credentials
}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(yield* Effect.scope)
    const context = yield* Layer.buildWithScope(
      Layer.fresh(serveLayer({
        http: options.http ?? { host: "127.0.0.1", port: 0 },
        stateDirectory: options.stateDirectory,
        downloadDirectory: options.downloadDirectory,
        peerPort: 0,
        peerHost: "127.0.0.1",
        dht: false,
        auth: options.auth,
        version: "test",
        hashThreads: 0
      })),
      scope
    )
    const info = Context.get(context, ServeInfo)
    const request = (path: string, init: RequestInit = {}) =>
      fetch(`${info.url}${path}`, { ...init, headers: { "x-effect-torrent-token": info.token, ...(init.headers as Record<string, string> | undefined) } })
    const daemon: RunningDaemon = {
      url: info.url,
      token: info.token,
      peerPort: info.peerPort,
      request,
      json: async (path, init) => {
        const res = await request(path, init)
        if (!res.ok) throw new Error(`${init?.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`)
        return (await res.json()) as never
      },
      stop: Scope.close(scope, Exit.void)
    }
    return daemon
  })

/** Reads over HTTP until `done` holds (support/waiting.ts polls; a deadline turns a hang into a failure). */
export const until = <A>(what: string, look: () => Promise<A>, done: (a: A) => boolean, seconds = 30) =>
  eventually(what, Effect.promise(look), done, seconds)
