/**
 * The client's transports: where it listens and how it dials, per `ClientConfig.transports`.
 * TCP through `Network.listen`/`connect`; uTP on the UDP port of the same number, shared
 * with the DHT and UDP trackers (`UdpPort`, provided by `layerNode`, or opened here).
 * Incoming connections of either kind go to the same router (`routeIncoming`, which also
 * answers MSE/PE, so encryption works over uTP as over TCP); outgoing
 * ones go through `transportDialer`, which tries the transports in order and remembers
 * what worked per peer (`TransportMemory`, also what PEX tells others about uTP).
 */
import { Duration, Effect, Option } from "effect"
import { formatAddress, isLocalNetwork, serve } from "../net/index.ts"
import { makeTransportMemory, type PeerDialer, tcpDialer, transportDialer, type TransportMemory } from "../peer/index.ts"
import { makeUdpPort, UdpPort, utpDialer, type UtpSocket } from "../utp/index.ts"
import type { ResolvedConfig } from "./config.ts"
import { ClientError } from "./errors.ts"
import { type IncomingOptions, listenForPeers, routeIncoming, type TorrentLookup } from "./listener.ts"

export interface Transports {
  /** The port peers reach us on (TCP and UDP), or null when not listening. */
  readonly port: number | null
  readonly dial: PeerDialer
  readonly memory: TransportMemory
  readonly utp: UtpSocket | undefined
}

export const startTransports = (config: ResolvedConfig, lookup: TorrentLookup, incoming: IncomingOptions) =>
  Effect.gen(function*() {
    const provided = yield* Effect.serviceOption(UdpPort)
    const useTcp = config.transports.includes("tcp")
    const useUtp = config.transports.includes("utp")
    const memory = makeTransportMemory()
    const listenError = (e: { readonly message: string }) => new ClientError({ reason: "Listen", detail: e.message })
    // uTP first: a port of its own choosing (port 0) is one whose number TCP can take too
    const shared = !useUtp
      ? undefined
      : Option.isSome(provided)
      ? provided.value
      : yield* makeUdpPort({ host: config.host, port: config.port ?? 0 }, { listen: config.port !== null })
        .pipe(Effect.mapError(listenError))
    let port: number | null = null
    if (config.port !== null && useTcp) {
      const wanted = config.port === 0 && shared !== undefined ? shared.address.port : config.port
      port = yield* listenForPeers({ host: config.host, port: wanted }, lookup, incoming).pipe(Effect.mapError(listenError))
    }
    const utp: UtpSocket | undefined = shared?.utp
    if (shared !== undefined && config.port !== null) {
      port ??= shared.address.port
      const route = routeIncoming(lookup, incoming)
      yield* Effect.forkScoped(
        serve(shared.utp.listener, (conn) => {
          memory.record(conn.remote, "utp")
          return route(conn)
        }).pipe(Effect.catch((e) => Effect.logError(`uTP listener on ${formatAddress(shared.address)} failed: ${e.message}`)))
      )
    }
    const timeout = Duration.millis(config.connectTimeoutMillis)
    const dial = transportDialer({
      dialers: {
        ...(useTcp ? { tcp: yield* tcpDialer(timeout) } : {}),
        ...(utp === undefined ? {} : { utp: utpDialer(utp, timeout) })
      },
      order: config.transports,
      memory,
      fallbackAfter: (address) =>
        Duration.millis(isLocalNetwork(address.host) ? config.localTransportFallbackMillis : config.transportFallbackMillis)
    })
    const transports: Transports = { port, dial, memory, utp }
    return transports
  })
