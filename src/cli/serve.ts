/**
 * `effect-torrent serve [--http HOST:PORT] [--state DIR] [--out DIR] [--port N] [--no-dht] [--no-lsd]
 *  [--auth USER:PASS] [--peer-host HOST]`
 *
 * Runs the daemon (src/daemon): torrents kept in the state directory, a web UI at /, the
 * JSON API under /api, Transmission RPC at /transmission/rpc, /metrics. Runs until
 * SIGTERM or Ctrl-C, which shut it down cleanly (exit 0).
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { VERSION } from "../version.ts"
import { CliInputError, interruptExitCode } from "./errors.ts"

export const serveCommand = Command.make(
  "serve",
  {
    http: Flag.String("http").pipe(Flag.withDescription("where the web UI and APIs listen (HOST:PORT)"), Flag.withDefault("127.0.0.1:9091")),
    state: Flag.String("state").pipe(Flag.withDescription("state directory: torrents, resume data, settings"), Flag.withDefault("effect-torrent-state")),
    out: Flag.String("out").pipe(Flag.withAlias("o"), Flag.withDescription("download directory (default: STATE/downloads)"), Flag.optional),
    port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("port for peers (0 = any free port)"), Flag.withDefault(6881)),
    peerHost: Flag.String("peer-host").pipe(Flag.withDescription("interface to accept peers on (:: = IPv6 and IPv4)"), Flag.withDefault("::")),
    noDht: Flag.Boolean("no-dht").pipe(Flag.withDescription("do not join the DHT"), Flag.withDefault(false)),
    noLsd: Flag.Boolean("no-lsd").pipe(Flag.withDescription("no Local Service Discovery (BEP 14 multicast on the local network)"), Flag.withDefault(false)),
    auth: Flag.String("auth").pipe(Flag.withDescription("require HTTP Basic credentials USER:PASS (needed to listen beyond loopback)"), Flag.optional)
  },
  Effect.fn("cli.serve")(function*(args) {
    // The daemon's modules (HTTP server, API, UI) load only for this command.
    const { parseAuth, parseListen } = yield* Effect.promise(() => import("../daemon/security.ts"))
    const { serveLayer, ServeInfo } = yield* Effect.promise(() => import("../daemon/server.ts"))
    const http = parseListen(args.http)
    if (http === undefined) return yield* new CliInputError({ subject: "--http", detail: `expected HOST:PORT, got ${JSON.stringify(args.http)}` })
    const auth = Option.isSome(args.auth) ? parseAuth(args.auth.value) : undefined
    if (Option.isSome(args.auth) && auth === undefined) return yield* new CliInputError({ subject: "--auth", detail: "expected USER:PASS" })
    if (args.port < 0 || args.port > 65535) return yield* new CliInputError({ subject: "--port", detail: `expected 0..65535, got ${args.port}` })
    const layer = serveLayer({
      http,
      stateDirectory: args.state,
      downloadDirectory: Option.getOrElse(args.out, () => `${args.state}/downloads`),
      peerPort: args.port,
      peerHost: args.peerHost,
      dht: !args.noDht,
      lsd: !args.noLsd,
      auth,
      version: VERSION
    })
    yield* Effect.gen(function*() {
      const info = yield* ServeInfo
      yield* Console.log(`effect-torrent ${VERSION} serving ${info.url}/ (peers on port ${info.peerPort ?? "-"})`)
      yield* Console.log(`API token: ${info.token}  (header X-Effect-Torrent-Token; docs at ${info.url}/api/docs)`)
      // From here a signal is the normal way to stop.
      interruptExitCode.value = 0
      return yield* Effect.never
    }).pipe(Effect.provide(layer), Effect.mapError((e) => e instanceof Error ? e : new CliInputError({ subject: "serve", detail: String(e) })))
  })
).pipe(Command.withDescription("run the daemon: web UI, JSON API, Transmission RPC, streaming, metrics"))

