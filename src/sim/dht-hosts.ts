/**
 * Simulated hosts for trackerless swarms: plain DHT nodes (our BEP 5 node, nothing
 * else) and clients that may run a DHT node beside them, all on one `World`.
 *
 * Node ids are derived from a label with SHA-1 rather than drawn from `Random`: an id
 * then depends only on the host, never on the order in which fibers happened to draw
 * numbers, so a scenario can be reshaped without shifting every other node's id.
 */
import { Context, Effect, FileSystem, Layer, type Scope, Stream } from "effect"
import { sha1 } from "../bytes.ts"
import { Client, type ClientConfig, type ClientService } from "../client/index.ts"
import { Dht, type DhtConfig, make as makeDht } from "../dht/index.ts"
import { Network, type UdpSocket } from "../net/index.ts"
import { Storage } from "../storage/index.ts"
import type { Torrent, TorrentEvent } from "../torrent/index.ts"
import { makeUdpPort, UdpPort } from "../utp/index.ts"
import { PEER_PORT, SIM_TRANSPORTS } from "./hosts.ts"
import { networkOf } from "./network.ts"
import type { HostOptions, World } from "./world.ts"

/** UDP port of every simulated DHT node (TCP and UDP ports are separate namespaces). */
export const DHT_PORT = 6881

/** A 20-byte node id from a label (deterministic, uniformly spread). */
export const simNodeId = (label: string): Uint8Array => sha1(label)

/** The DHT needs a FileSystem only for its state file, which simulated nodes never have. */
const noFiles = FileSystem.makeNoop({})

export interface SimDhtNodeOptions {
  readonly address: string
  /** `host:port` of the nodes to join through; [] for the first node. */
  readonly bootstrap: ReadonlyArray<string>
  readonly nodeId?: Uint8Array
  readonly link?: HostOptions
  /** Everything else of the node's configuration (timeouts, rate limits...). */
  readonly config?: Omit<DhtConfig, "bind" | "bootstrap" | "nodeId" | "stateFile" | "socket">
  /** The host's shared UDP port to run on, instead of binding `DHT_PORT` itself. */
  readonly socket?: UdpSocket
}

/** Starts a DHT node on a simulated host; it stops when the current scope closes. */
export const startDhtNode = (world: World, options: SimDhtNodeOptions): Effect.Effect<Dht["Service"], never, Scope.Scope> =>
  makeDht({
    ...options.config,
    bind: { host: options.address, port: DHT_PORT },
    ...(options.socket === undefined ? {} : { socket: options.socket }),
    bootstrap: options.bootstrap,
    ...(options.nodeId === undefined ? {} : { nodeId: options.nodeId })
  }).pipe(
    Effect.provideService(Network, networkOf(world, options.address, options.link)),
    Effect.provideService(FileSystem.FileSystem, noFiles),
    Effect.orDie
  )

export interface SimClientOptions {
  readonly address: string
  readonly storage: Storage["Service"]
  readonly link?: HostOptions
  /** Run a DHT node beside the client (its peer source for torrents and magnets). */
  readonly dht?: Omit<SimDhtNodeOptions, "address" | "link">
  readonly client?: Omit<ClientConfig, "host" | "port" | "dht">
}

export interface SimClient {
  readonly client: ClientService
  readonly dht: Dht["Service"] | undefined
}

/** Our client (no tracker, optionally a DHT node) on a simulated host, for the current scope. */
export const startSimClient = (world: World, options: SimClientOptions): Effect.Effect<SimClient, never, Scope.Scope> =>
  Effect.gen(function*() {
    const hostNetwork = networkOf(world, options.address, options.link)
    const network = Layer.succeed(Network, hostNetwork)
    const transports = options.client?.transports ?? SIM_TRANSPORTS
    // uTP and the DHT share the peer port's UDP socket, as on a real machine
    const port = transports.includes("utp")
      ? yield* makeUdpPort({ host: options.address, port: PEER_PORT }).pipe(Effect.provideService(Network, hostNetwork), Effect.orDie)
      : undefined
    const dht = options.dht === undefined
      ? undefined
      : yield* startDhtNode(world, { ...options.dht, address: options.address, ...(port === undefined ? {} : { socket: port.krpc }) })
    const base = Layer.mergeAll(
      network,
      Layer.succeed(Storage, options.storage),
      Layer.succeed(FileSystem.FileSystem, noFiles),
      port === undefined ? Layer.empty : Layer.succeed(UdpPort, port)
    )
    const config = { downloadDirectory: "/sim", lsd: false, ...options.client, transports, host: options.address, port: PEER_PORT, trackers: false, webSeeds: false, dht: undefined, noPeersWarning: false } as const
    const layer = dht === undefined
      ? Client.layer(config).pipe(Layer.provide(base))
      : Client.layer({ ...config, dht: {} }).pipe(Layer.provide(Layer.mergeAll(base, Layer.succeed(Dht, dht))))
    const context = yield* Layer.build(Layer.fresh(layer)).pipe(Effect.orDie)
    const result: SimClient = { client: Context.get(context, Client), dht }
    return result
  })

/** Feeds every event of a torrent to `onEvent` until the current scope closes. */
export const followEvents = (torrent: Torrent, onEvent: (event: TorrentEvent) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(torrent.events)
    yield* Effect.forkScoped(Effect.forever(
      pull.pipe(Effect.flatMap((batch) => Effect.forEach(batch, onEvent, { discard: true })))
    ).pipe(Effect.ignore))
  })
