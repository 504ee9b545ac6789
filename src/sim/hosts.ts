/**
 * Simulated hosts running real software: our client (with the real tracker client over
 * UDP), the simulation's UDP tracker, or a "silent" peer that accepts connections and
 * never says a word. Each host runs in its own scope, so a crash or a departure is one
 * scope closing, and a restart is starting the same host again (its storage survives,
 * like a disk).
 */
import { Context, Effect, Exit, FileSystem, Layer, Scope, Stream } from "effect"
import { HttpClient, HttpClientError } from "effect/http"
import { Client, type ClientConfig } from "../client/index.ts"
import { Network } from "../net/index.ts"
import { Storage } from "../storage/index.ts"
import type { Torrent, TorrentEvent } from "../torrent/index.ts"
import { Tracker } from "../tracker/index.ts"
import type { SimTorrent } from "./content.ts"
import { networkOf } from "./network.ts"
import { runTrackerServer } from "./tracker-server.ts"
import type { HostOptions, World } from "./world.ts"

export type Role = "seed" | "leecher" | "corrupt" | "silent" | "tracker"

export const PEER_PORT = 6881

/**
 * Simulated clients speak TCP unless their configuration says otherwise: a simulated TCP
 * write is one event whatever its size, a uTP stream one per 1380-byte packet and ack.
 * Scenarios that want uTP ask for it (`client: { transports: ["utp", "tcp"] }`).
 */
export const SIM_TRANSPORTS: ReadonlyArray<"utp" | "tcp"> = ["tcp"]
export const TRACKER_PORT = 6969

/** There is no HTTP in the simulation: every request fails like an unreachable host. */
const noHttp = Layer.succeed(
  HttpClient.HttpClient,
  HttpClient.make((request) =>
    Effect.fail(new HttpClientError.HttpClientError({
      reason: new HttpClientError.TransportError({ request, description: "no HTTP in the simulation" })
    }))
  )
)

export interface SimHost {
  readonly name: string
  readonly address: string
  readonly role: Role
  /** The host's current torrent handle, when it runs a client. */
  torrent: Torrent | undefined
  running: boolean
  /** Left the swarm for good (no restart expected). */
  departed: boolean
}

export interface HostSpec {
  readonly name: string
  readonly address: string
  readonly role: Role
  readonly link?: HostOptions
  readonly storage?: Storage["Service"]
  readonly client?: ClientConfig
  /** Peers dialled from the start. */
  readonly peers?: ReadonlyArray<{ readonly host: string; readonly port: number }>
  /** What the client traces into the world's trace (its host name and the virtual clock are added). */
  readonly trace?: { readonly messages: boolean; readonly pieces: boolean }
}

export interface HostRuntime {
  readonly host: SimHost
  readonly start: Effect.Effect<void>
  /** Closes the host's scope: its software stops (sockets closed gracefully unless crashed first). */
  readonly stop: Effect.Effect<void>
}

export interface HostHooks {
  readonly onEvent: (host: SimHost, event: TorrentEvent) => Effect.Effect<void>
  /** Runs in the host's scope (forks end when the host stops). */
  readonly onStarted: (host: SimHost, torrent: Torrent) => Effect.Effect<void, never, Scope.Scope>
}

export const makeHost = (
  world: World,
  spec: HostSpec,
  torrent: SimTorrent,
  trackerUrl: string | null,
  hooks: HostHooks
): Effect.Effect<HostRuntime, never, Scope.Scope> =>
  Effect.gen(function*() {
    const parent = yield* Effect.scope
    const network = networkOf(world, spec.address, spec.link)
    const networkLayer = Layer.succeed(Network, network)
    const host: SimHost = { name: spec.name, address: spec.address, role: spec.role, torrent: undefined, running: false, departed: false }
    let scope: Scope.Closeable | undefined

    const runClient = (storage: Storage["Service"]) =>
      Effect.gen(function*() {
        // No files to add by path in a simulation: the host adds parsed torrents.
        const base = Layer.mergeAll(networkLayer, Layer.succeed(Storage, storage), FileSystem.layerNoop({}))
        const tracker = Tracker.layer({ udpBind: { host: spec.address, port: 0 } }).pipe(
          Layer.provide(Layer.mergeAll(networkLayer, noHttp))
        )
        // noPeersWarning: no timer of its own in virtual time (the sim reports peers itself)
        const config = { host: spec.address, port: PEER_PORT, downloadDirectory: "/sim", transports: SIM_TRANSPORTS, lsd: false, ...spec.client, trackers: false, webSeeds: false, dht: undefined, noPeersWarning: false } as const
        const clientLayer = trackerUrl === null
          ? Client.layer(config).pipe(Layer.provide(base))
          : Client.layer({ ...config, trackers: true }).pipe(Layer.provide(Layer.mergeAll(base, tracker)))
        const context = yield* Layer.build(Layer.fresh(clientLayer))
        const client = Context.get(context, Client)
        const trace = spec.trace === undefined ? {} : { trace: { sink: world.traceSink, host: spec.name, clock: "virtual" as const, peerIds: false, ...spec.trace } }
        const added = yield* client.add(torrent.metainfo, { peers: spec.peers ?? [], ...trace }).pipe(Effect.orDie)
        host.torrent = added
        const pull = yield* Stream.toPull(added.events)
        yield* Effect.forkScoped(Effect.forever(
          pull.pipe(Effect.flatMap((batch) => Effect.forEach(batch, (e) => hooks.onEvent(host, e), { discard: true })))
        ).pipe(Effect.ignore))
        yield* hooks.onStarted(host, added)
      })

    /** Accepts connections and holds them open without reading or writing. */
    const runSilent = Effect.gen(function*() {
      const listener = yield* network.listen({ host: spec.address, port: PEER_PORT })
      yield* Effect.forkScoped(Effect.forever(listener.accept))
    }).pipe(Effect.orDie)

    const runTracker = Effect.forkScoped(
      runTrackerServer({
        bind: { host: spec.address, port: TRACKER_PORT },
        onRequest: (kind, from) => world.trace(`tracker-${kind}`, { from: from.host })
      }).pipe(Effect.provideService(Network, network), Effect.ignore)
    )

    const start = Effect.gen(function*() {
      if (host.running) return
      const s = yield* Scope.fork(parent, "sequential")
      scope = s
      host.running = true
      const body = spec.role === "tracker"
        ? runTracker
        : spec.role === "silent"
        ? runSilent
        : spec.storage === undefined
        ? Effect.die(new Error(`host ${spec.name} runs a client but has no storage`))
        : runClient(spec.storage)
      yield* body.pipe(Scope.provide(s), Effect.orDie)
    })

    const stop = Effect.gen(function*() {
      const s = scope
      scope = undefined
      host.running = false
      host.torrent = undefined
      if (s !== undefined) yield* Scope.close(s, Exit.void)
    })

    const runtime: HostRuntime = { host, start, stop }
    return runtime
  })
