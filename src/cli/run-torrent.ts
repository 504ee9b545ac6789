/**
 * What `download` and `seed` share: add one torrent to a client on the real machine,
 * show its progress, wait for completion, then keep seeding until a ratio or a time
 * limit (or Ctrl-C). Ctrl-C interrupts this effect; closing the client's layer sends
 * `stopped` announces, saves resume data and closes the files.
 */
import { Console, Duration, Effect, Fiber, Option, SubscriptionRef } from "effect"
import { join } from "node:path"
import { Flag } from "effect/cli"
import { type AddOptions, Client, type ClientConfig, layerNode } from "../client/index.ts"
import type { Metainfo } from "../metainfo/model.ts"
import { type Address, NodeNetwork, parseAddress } from "../net/index.ts"
import { parseMagnet } from "../metainfo/index.ts"
import { ENCRYPTION_POLICIES, type EncryptionPolicy } from "../mse/index.ts"
import { parseTransports, type Transport } from "../peer/index.ts"
import type { Torrent } from "../torrent/index.ts"
import { CliInputError, fsError, interruptExitCode } from "./errors.ts"
import { openTraceFile } from "../trace/writer.ts"
import { makeProgressBar, silentProgressBar } from "./progress.ts"
import { renderJsonLine, renderPlainLine, renderStatusLine } from "./status-view.ts"
import { formatBytes, parseDuration, parseRate } from "./units.ts"
import { oneLine } from "./format.ts"
import { DEFAULT_PORT, pickPort, portFallbackLine } from "./port.ts"
import {
  type MagnetSources,
  NO_PEERS_SECONDS,
  noMetadataPeersLine,
  noPieceLayersPeersLine,
  type OutputMode,
  outputMode,
  reportNoPeers,
  seedingLine,
  say,
  showMetadataProgress,
  showPieceLayersProgress,
  stoppedLine,
  warn
} from "./run-messages.ts"

const PLAIN_EVERY_SECONDS = 5

/** Flags shared by `download` and `seed`. */
export const sharedFlags = {
  port: Flag.Int("port").pipe(
    Flag.withAlias("p"),
    Flag.withDescription("port to accept peers on, 0 = any (default: 6881, or the next free port when another client has it)"),
    Flag.optional
  ),
  maxPeers: Flag.Int("max-peers").pipe(Flag.withDescription("connections for this torrent"), Flag.withDefault(50)),
  peer: Flag.String("peer").pipe(Flag.withDescription("also connect to this peer, HOST:PORT; repeatable"), Flag.atLeast(0)),
  uploadLimit: Flag.String("upload-limit").pipe(Flag.withDescription("bytes per second, e.g. 500k or 10M"), Flag.optional),
  downloadLimit: Flag.String("download-limit").pipe(Flag.withDescription("bytes per second, e.g. 500k or 10M"), Flag.optional),
  seedRatio: Flag.String("seed-ratio").pipe(Flag.withDescription("stop seeding once uploaded / size reaches this ratio"), Flag.optional),
  seedTime: Flag.String("seed-time").pipe(Flag.withDescription("stop seeding after this long, e.g. 90s, 30m, 2h, 1h30m (a bare number is seconds)"), Flag.optional),
  json: Flag.Boolean("json").pipe(Flag.withDescription("print one JSON object per line"), Flag.withDefault(false)),
  quiet: Flag.Boolean("quiet").pipe(Flag.withAlias("q"), Flag.withDescription("no progress: print only warnings and errors"), Flag.withDefault(false)),
  dhtBootstrap: Flag.String("dht-bootstrap").pipe(
    Flag.withDescription("join the DHT through this node, HOST:PORT or [IPv6]:PORT; repeatable (default: the well-known routers). Listening dual-stack, the client is in the IPv4 and the IPv6 DHT (BEP 32)"),
    Flag.atLeast(0)
  ),
  noDht: Flag.Boolean("no-dht").pipe(Flag.withDescription("do not use the DHT"), Flag.withDefault(false)),
  noLsd: Flag.Boolean("no-lsd").pipe(Flag.withDescription("no Local Service Discovery (BEP 14 multicast on the local network)"), Flag.withDefault(false)),
  noWebSeeds: Flag.Boolean("no-web-seeds").pipe(Flag.withDescription("do not download from the torrent's web seeds (BEP 19/17)"), Flag.withDefault(false)),
  transports: Flag.String("transports").pipe(
    Flag.withDescription("transports to speak, in the order outgoing connections try them: utp,tcp (default), tcp,utp, tcp or utp"),
    Flag.optional
  ),
  // a plain string checked in planFromArgs, so a bad value is one line like every other flag's
  encryption: Flag.String("encryption").pipe(
    Flag.withDescription("MSE/PE: prefer (encrypt when the peer can, default), require (encrypted peers only), disable (plaintext only)"),
    Flag.withDefault("prefer")
  ),
  trace: Flag.String("trace").pipe(
    Flag.withDescription("record every peer message, connection, piece and announce in FILE (JSON lines, docs/TRACE.md; read it with `trace FILE`)"),
    Flag.optional
  )
}

export interface SharedArgs {
  readonly port: Option.Option<number>
  readonly maxPeers: number
  readonly peer: ReadonlyArray<string>
  readonly uploadLimit: Option.Option<string>
  readonly downloadLimit: Option.Option<string>
  readonly seedRatio: Option.Option<string>
  readonly seedTime: Option.Option<string>
  readonly json: boolean
  readonly quiet: boolean
  readonly dhtBootstrap: ReadonlyArray<string>
  readonly noDht: boolean
  readonly noLsd: boolean
  readonly noWebSeeds: boolean
  readonly transports: Option.Option<string>
  readonly encryption: string
  readonly trace: Option.Option<string>
}

export interface RunPlan {
  readonly peers: ReadonlyArray<Address>
  readonly uploadLimit: number | undefined
  readonly downloadLimit: number | undefined
  readonly encryption: EncryptionPolicy
  readonly seedRatio: number | undefined
  readonly seedTime: Duration.Duration | undefined
  /** Undefined: the client's default. */
  readonly transports: ReadonlyArray<Transport> | undefined
}

const bad = (subject: string, detail: string) => Effect.fail(new CliInputError({ subject, detail }))

/** Checks the shared flags; every problem is one line about one flag. */
export const planFromArgs = (args: SharedArgs): Effect.Effect<RunPlan, CliInputError> =>
  Effect.gen(function*() {
    const peers = []
    for (const raw of args.peer) {
      const address = parseAddress(raw)
      if (address === undefined) return yield* bad("--peer", `expected HOST:PORT, got ${JSON.stringify(raw)}`)
      peers.push(address)
    }
    for (const raw of args.dhtBootstrap) {
      if (parseAddress(raw) === undefined) return yield* bad("--dht-bootstrap", `expected HOST:PORT, got ${JSON.stringify(raw)}`)
    }
    if (args.maxPeers < 1) return yield* bad("--max-peers", "must be at least 1")
    if (Option.isSome(args.port) && (args.port.value < 0 || args.port.value > 65535)) return yield* bad("--port", "must be between 0 and 65535")
    const rate = (flag: string, value: Option.Option<string>) =>
      Option.isNone(value)
        ? Effect.succeed(undefined)
        : Option.match(Option.fromNullishOr(parseRate(value.value)).pipe(Option.filter((n) => n > 0)), {
          onNone: () => bad(flag, `expected a rate above 0 like 500k or 10M, got ${JSON.stringify(value.value)}`),
          onSome: Effect.succeed
        })
    const uploadLimit = yield* rate("--upload-limit", args.uploadLimit)
    const downloadLimit = yield* rate("--download-limit", args.downloadLimit)
    let seedRatio: number | undefined
    if (Option.isSome(args.seedRatio)) {
      seedRatio = Number(args.seedRatio.value)
      if (!Number.isFinite(seedRatio) || seedRatio < 0) return yield* bad("--seed-ratio", `expected a number >= 0, got ${JSON.stringify(args.seedRatio.value)}`)
    }
    let seedTime: Duration.Duration | undefined
    if (Option.isSome(args.seedTime)) {
      seedTime = parseDuration(args.seedTime.value, "seconds")
      if (seedTime === undefined) return yield* bad("--seed-time", `expected a duration like 90s, 30m, 2h or 1h30m, got ${JSON.stringify(args.seedTime.value)}`)
    }
    let transports: ReadonlyArray<Transport> | undefined
    if (Option.isSome(args.transports)) {
      transports = parseTransports(args.transports.value)
      if (transports === undefined) return yield* bad("--transports", `expected utp, tcp or both separated by a comma, got ${JSON.stringify(args.transports.value)}`)
    }
    const encryption = ENCRYPTION_POLICIES.find((p) => p === args.encryption)
    if (encryption === undefined) return yield* bad("--encryption", `expected ${ENCRYPTION_POLICIES.join(", ")}; got ${JSON.stringify(args.encryption)}`)
    return { peers, uploadLimit, downloadLimit, encryption, seedRatio, seedTime, transports }
  })

/** Shows the torrent's state until interrupted: redrawn each second, a plain line every few, or JSON lines. */
export const watchProgress = (torrent: Torrent, mode: OutputMode) =>
  Effect.gen(function*() {
    let tick = 0
    let warned = false
    while (true) {
      const state = SubscriptionRef.getUnsafe(torrent.state)
      if (mode === "json") yield* Console.log(renderJsonLine(state))
      else if (mode === "tty") yield* Effect.sync(() => process.stderr.write(`\r${renderStatusLine(state, process.stderr.columns || 100)}\x1b[K`))
      else if (mode === "plain" && tick % PLAIN_EVERY_SECONDS === 0) yield* Console.error(renderPlainLine(state))
      if (!warned && tick >= NO_PEERS_SECONDS && state.peers === 0 && state.status === "downloading") {
        warned = true
        yield* reportNoPeers(torrent, mode)
      }
      tick++
      yield* Effect.sleep("1 second")
    }
  })

/** Waits until the seeding goal is met: a ratio, a time, or never (Ctrl-C). */
const seedUntilGoal = (torrent: Torrent, plan: RunPlan) =>
  Effect.gen(function*() {
    const ratioReached = Effect.gen(function*() {
      if (plan.seedRatio === undefined) return yield* Effect.never
      while (true) {
        const s = SubscriptionRef.getUnsafe(torrent.state)
        if (s.wantedBytes === 0 || s.uploaded / s.wantedBytes >= plan.seedRatio) return "ratio" as const
        yield* Effect.sleep("1 second")
      }
    })
    const timeUp = plan.seedTime === undefined
      ? Effect.never
      : Effect.sleep(plan.seedTime).pipe(Effect.as("time" as const))
    return yield* Effect.raceFirst(ratioReached, timeUp)
  })

/** 6881, or the next free port when another client holds it (said in one line). */
const defaultPort = (mode: OutputMode) =>
  Effect.gen(function*() {
    const { port, taken } = yield* pickPort("0.0.0.0", DEFAULT_PORT)
    if (taken.length > 0) yield* warn(mode, portFallbackLine(taken, port))
    return port
  }).pipe(Effect.provide(NodeNetwork.layer))

/** What `add` is fetching from peers before the torrent opens, and from how many. */
interface FetchPhase {
  readonly phase: "metadata" | "piece layers" | undefined
  readonly peers: number
}

/** After NO_PEERS_SECONDS of a fetch phase (a magnet's metadata, a v2 torrent's piece layers) with no peer: where we looked. */
const fetchNoPeersHint = (source: RunOptions["source"], extraPeers: number, dht: boolean, now: () => FetchPhase, mode: OutputMode) =>
  Effect.gen(function*() {
    yield* Effect.sleep(Duration.seconds(NO_PEERS_SECONDS))
    const { phase, peers } = now()
    if (peers > 0 || phase === undefined) return
    if (phase === "piece layers" || !("magnet" in source)) return yield* warn(mode, noPieceLayersPeersLine())
    const magnet = yield* Effect.option(parseMagnet(source.magnet))
    const sources: MagnetSources = Option.match(magnet, {
      onNone: () => ({ trackers: 0, linkPeers: 0, extraPeers, dht }),
      onSome: (m) => ({ trackers: m.trackers.length, linkPeers: m.peers.length, extraPeers, dht })
    })
    yield* warn(mode, noMetadataPeersLine(sources))
  })

export interface RunOptions {
  /** A parsed .torrent, or a magnet link whose metadata is fetched from peers first. */
  readonly source: Metainfo | { readonly magnet: string }
  readonly directory: string
  readonly args: SharedArgs
  readonly plan: RunPlan
  /** Keep seeding after completion. */
  readonly seed: boolean
  readonly add: AddOptions
}

export const runTorrent = (options: RunOptions) =>
  Effect.gen(function*() {
    const { args, plan } = options
    // Opened outside the client, so the file outlives it: the closes of its shutdown are in it.
    const traceFile = Option.getOrUndefined(args.trace)
    const trace = traceFile === undefined ? undefined : yield* openTraceFile(traceFile).pipe(Effect.mapError(fsError(traceFile)))
    const mode = outputMode(args.json, args.quiet)
    // From here on Ctrl-C / SIGTERM is how a user stops the client: an orderly shutdown, exit 0.
    interruptExitCode.value = 0
    const check = mode === "quiet" ? silentProgressBar : yield* makeProgressBar("checking", "pieces")
    // A v2 torrent without piece layers whose data is here: its files are hashed for them first.
    const layerBar = mode === "quiet" ? silentProgressBar : yield* makeProgressBar("piece layers", "bytes")
    let layerBarOpen = true
    const endLayerBar = Effect.suspend(() => layerBarOpen ? Effect.andThen(Effect.sync(() => void (layerBarOpen = false)), layerBar.finish) : Effect.void)
    const port = Option.isSome(args.port) ? args.port.value : yield* defaultPort(mode)
    const config: ClientConfig = {
      downloadDirectory: options.directory,
      port,
      maxPeersPerTorrent: args.maxPeers,
      encryption: plan.encryption,
      lsd: !args.noLsd,
      webSeeds: !args.noWebSeeds,
      // the CLI says it itself, in its own words and with a JSON form (reportNoPeers)
      noPeersWarning: false,
      ...(plan.uploadLimit === undefined ? {} : { uploadLimit: plan.uploadLimit }),
      ...(plan.downloadLimit === undefined ? {} : { downloadLimit: plan.downloadLimit }),
      ...(plan.transports === undefined ? {} : { transports: plan.transports }),
      ...(args.noDht ? {} : {
        dht: {
          ...(args.dhtBootstrap.length === 0 ? {} : { bootstrap: args.dhtBootstrap }),
          // The routing table persists next to the resume data, so the next run starts warm.
          stateFile: join(options.directory, ".effect-torrent", "dht.state")
        }
      })
    }
    // The torrent once added, for the closing line after Ctrl-C.
    let added: Torrent | undefined
    yield* Effect.gen(function*() {
      const client = yield* Client
      let fetching: FetchPhase = { phase: "magnet" in options.source ? "metadata" : undefined, peers: 0 }
      const hint = yield* Effect.forkChild(fetchNoPeersHint(options.source, plan.peers.length, !args.noDht, () => fetching, mode))
      const torrent = yield* client.add(options.source, {
        ...options.add,
        ...(trace === undefined ? {} : { trace: { sink: trace } }),
        peers: plan.peers,
        onMetadataProgress: (p) => {
          fetching = { phase: "metadata", peers: p.peers }
          return showMetadataProgress(mode, p)
        },
        onPieceLayersProgress: (p) => {
          fetching = { phase: "piece layers", peers: p.peers }
          return Effect.andThen(endLayerBar, showPieceLayersProgress(mode, p))
        },
        onLayerHashProgress: (hashed, total) => layerBar.update(hashed, total),
        onCheckProgress: (checked, total) => Effect.andThen(endLayerBar, check.update(checked, total))
      }).pipe(Effect.ensuring(Effect.andThen(endLayerBar, check.finish)))
      yield* Fiber.interrupt(hint)
      added = torrent
      const watcher = yield* Effect.forkChild(watchProgress(torrent, mode))
      yield* torrent.whenComplete
      // Stopped before the completion line, so no progress line can come after it.
      yield* Fiber.interrupt(watcher)
      const done = SubscriptionRef.getUnsafe(torrent.state)
      if (mode === "json") yield* Console.log(JSON.stringify({ type: "complete", infoHash: done.infoHash, name: done.name, bytes: done.wantedBytes }))
      else yield* say(mode, `${oneLine(done.name)}: complete, ${done.piecesVerified}/${done.pieceCount} pieces verified`)
      if (!options.seed) return
      if (mode !== "json") yield* say(mode === "tty" ? "plain" : mode, seedingLine(plan))
      const seedingWatcher = yield* Effect.forkChild(watchProgress(torrent, mode))
      const why = yield* seedUntilGoal(torrent, plan)
      yield* Fiber.interrupt(seedingWatcher)
      const after = SubscriptionRef.getUnsafe(torrent.state)
      if (mode === "json") yield* Console.log(JSON.stringify({ type: "seeded", reason: why, uploaded: after.uploaded }))
      else yield* say(mode, `seeding done (${why === "ratio" ? "ratio reached" : "time is up"}), uploaded ${formatBytes(after.uploaded)}`)
    }).pipe(
      Effect.provide(layerNode(config)),
      // After the client has closed (announces sent, resume data saved): a last line, so the
      // shell's prompt does not land on the live status line.
      Effect.onInterrupt(() => Effect.suspend(() => stoppedLine(added === undefined ? undefined : SubscriptionRef.getUnsafe(added.state), mode)))
    )
  }).pipe(Effect.scoped)
