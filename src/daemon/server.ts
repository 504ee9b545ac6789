/**
 * `effect-torrent serve` as a layer: the client, the state directory, the daemon, and one
 * HTTP server carrying the native API (/api, with /api/openapi.json and /api/docs), file
 * streaming, server-sent events, Transmission RPC (/transmission/rpc), /metrics and the
 * web UI (/). Building the layer starts everything; releasing it (SIGTERM) stops the HTTP
 * server, then the torrents (resume data saved, `stopped` announces sent), then the client.
 */
import { randomBytes } from "node:crypto"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import { Context, Effect, Layer, Result } from "effect"
import * as NetAddress from "effect/net/NetAddress"
import { FetchHttpClient, HttpRouter, HttpServer } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Client, type ClientError, layerNode } from "../client/index.ts"
import { DaemonApi } from "./api.ts"
import { SessionHandlers, TokenLayer, TorrentsHandlers } from "./api-handlers.ts"
import { docsRoute } from "./docs-route.ts"
import { eventsRoute } from "./events-route.ts"
import { metricsRoute, sampler } from "./metrics.ts"
import { checkBind, type Credentials } from "./security.ts"
import { guard } from "./security.ts"
import { Daemon, makeDaemon } from "./service.ts"
import * as NodeServer from "./node-server.ts"
import { makeStateStore } from "./state-store.ts"
import { streamRoute } from "./stream-route.ts"
import { traceRoute } from "./trace-route.ts"
import { transmissionRoute } from "./transmission/rpc.ts"
import { uiRoute } from "./ui/route.ts"

export interface ServeOptions {
  /** Where the HTTP server listens. Default 127.0.0.1:9091. */
  readonly http: { readonly host: string; readonly port: number }
  readonly stateDirectory: string
  readonly downloadDirectory: string
  /** Port for peers; 0 = any, null = do not listen. */
  readonly peerPort: number | null
  /** Interface for peers. Default :: (dual-stack; 0.0.0.0 without IPv6). */
  readonly peerHost?: string
  readonly dht: boolean
  /** Local Service Discovery (BEP 14). Default false (not verified end to end yet). */
  readonly lsd?: boolean
  readonly auth?: Credentials | undefined
  /** The API token; default a random one per run. */
  readonly token?: string
  readonly version: string
  /** `layerNode`'s hashing threads (tests use 0). */
  readonly hashThreads?: number
}

/** What a running daemon tells its caller: where it listens and the token its API needs. */
export class ServeInfo extends Context.Service<ServeInfo, {
  readonly url: string
  readonly token: string
  readonly peerPort: number | null
}>()("effect-torrent/daemon/ServeInfo") {}

const clientLayer = (options: ServeOptions): Layer.Layer<Client, ClientError> =>
  layerNode({
    host: options.peerHost ?? "::",
    port: options.peerPort,
    downloadDirectory: options.downloadDirectory,
    lsd: options.lsd ?? false,
    ...(options.hashThreads === undefined ? {} : { hashThreads: options.hashThreads }),
    ...(options.dht ? { dht: { stateFile: `${options.stateDirectory}/dht.json` } } : {})
  })

export const serveLayer = (options: ServeOptions) => {
  const token = options.token ?? randomBytes(24).toString("base64url")
  const daemonLayer = Layer.effect(
    Daemon,
    Effect.gen(function*() {
      const store = yield* makeStateStore(options.stateDirectory)
      return yield* makeDaemon({ downloadDirectory: options.downloadDirectory }, store)
    })
  ).pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, FetchHttpClient.layer)))

  const routes = Layer.unwrap(Effect.gen(function*() {
    const peerPort = (yield* Client).port
    return Layer.mergeAll(
      HttpApiBuilder.layer(DaemonApi, { openapiPath: "/api/openapi.json" }).pipe(
        Layer.provide(
          Layer.mergeAll(TorrentsHandlers, SessionHandlers({ version: options.version, peerPort })).pipe(Layer.provide(TokenLayer(token)))
        )
      ),
      docsRoute,
      streamRoute(token),
      traceRoute(token),
      eventsRoute(token),
      metricsRoute,
      transmissionRoute(peerPort),
      uiRoute(token),
      guard({ auth: options.auth })
    )
  }))

  const http = HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(HttpServer.layerServices),
    Layer.provideMerge(NodeServer.layer(options.http))
  )

  const info = Layer.effect(
    ServeInfo,
    Effect.gen(function*() {
      const server = yield* HttpServer.HttpServer
      const url = Result.getOrElse(NetAddress.formatUrl(server.address), () => String(server.address))
      return { url, token, peerPort: (yield* Client).port }
    })
  )

  const core = Layer.mergeAll(daemonLayer, sampler.pipe(Layer.provide(daemonLayer)))
  return Layer.unwrap(Effect.gen(function*() {
    yield* checkBind(options.http.host, options.auth)
    return Layer.provideMerge(
      info.pipe(Layer.provideMerge(http)),
      core.pipe(Layer.provideMerge(clientLayer(options)))
    )
  }))
}
