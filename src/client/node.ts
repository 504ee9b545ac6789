import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { FetchHttpClient } from "effect/http"
import { Effect, Layer } from "effect"
import { ANY_HOST, globalIpv6, NodeNetwork } from "../net/index.ts"
import { FileStorage, PieceHasher } from "../storage/index.ts"
import { Dht, type DhtConfig, make as makeDht } from "../dht/index.ts"
import { Tracker } from "../tracker/index.ts"
import { makeUdpPort, UdpPort } from "../utp/index.ts"
import { Client } from "./client.ts"
import { type ClientConfig, resolveConfig } from "./config.ts"
import { ClientError } from "./errors.ts"
import { fitToFdLimit, readOpenFileLimit } from "./fd-budget.ts"

/**
 * The client on the real machine: sockets through node:net/node:dgram, files on disk with
 * pieces hashed in worker threads, trackers over HTTP and UDP (unless `trackers: false`), the
 * DHT when `config.dht` is given. Everything it needs is provided.
 *
 * One UDP socket per listening port: uTP, the DHT (unless given a port of its own) and UDP
 * tracker replies share the socket bound to the TCP port's number (`UdpPort`).
 *
 * Fails with `ClientError` "Listen" when the peer port or the DHT's UDP port cannot be bound.
 */
export const layerNode = (wanted: ClientConfig = {}): Layer.Layer<Client, ClientError> => {
  // Under a tight `ulimit -n` the client asks for fewer connections instead of hitting EMFILE
  const defaults = resolveConfig(wanted)
  const config: ClientConfig = {
    ...wanted,
    ...fitToFdLimit({ maxPeers: defaults.maxPeers, maxHalfOpen: defaults.maxHalfOpen }, readOpenFileLimit())
  }
  const host = config.host ?? ANY_HOST
  const port = config.port === undefined ? 6881 : config.port
  const useUtp = config.transports === undefined || config.transports.length === 0 || config.transports.includes("utp")
  const dhtOptions = config.dht
  const dhtShares = dhtOptions !== undefined && port !== null && (dhtOptions.port === undefined || dhtOptions.port === port)
  const shared = useUtp || dhtShares
  const listenError = (what: string) => (e: { readonly message: string }) => new ClientError({ reason: "Listen", detail: `${what}${e.message}` })

  const storage = config.hashThreads === 0
    ? FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))
    : FileStorage.layerWithHasher.pipe(Layer.provide(Layer.mergeAll(
      PieceHasher.layerWorkers(config.hashThreads === undefined ? {} : { threads: config.hashThreads }),
      NodeFileSystem.layer
    )))
  const base = Layer.mergeAll(NodeNetwork.layer, storage, NodeFileSystem.layer, FetchHttpClient.layer)
  const udpPort = Layer.effect(
    UdpPort,
    makeUdpPort({ host, port: port ?? 0 }, { listen: port !== null && useUtp }).pipe(Effect.mapError(listenError("")))
  ).pipe(Layer.provide(NodeNetwork.layer))
  const dhtConfig = (extra: Partial<DhtConfig>): DhtConfig => ({
    bind: { host, port: dhtOptions?.port ?? port ?? 0 },
    ...(dhtOptions?.bootstrap === undefined ? {} : { bootstrap: dhtOptions.bootstrap }),
    ...(dhtOptions?.stateFile === undefined ? {} : { stateFile: dhtOptions.stateFile }),
    ...extra
  })
  const dhtOn = (extra: Partial<DhtConfig>) =>
    Layer.effect(Dht, makeDht(dhtConfig(extra)).pipe(Effect.mapError(listenError("DHT: "))))
      .pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)))
  // Listening dual-stack, tell HTTP trackers our IPv6 address too (BEP 7 `ipv6=`).
  const ipv6 = host === ANY_HOST ? globalIpv6() : undefined
  const trackerOn = (udp: Parameters<typeof Tracker.layer>[0]) =>
    Tracker.layer(ipv6 === undefined ? udp : { ...udp, announceIpv6: ipv6 }).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer)))

  // Each branch names what it turns on, so Client.layer's requirements are exactly what is provided.
  const off = { ...config, trackers: false, dht: undefined } as const
  if (!shared) {
    // UDP trackers are asked from the interface peers reach us on
    const tracker = trackerOn({ udpBind: { host, port: 0 } })
    if (dhtOptions === undefined) {
      return config.trackers === false
        ? Client.layer(off).pipe(Layer.provide(base))
        : Client.layer({ ...off, trackers: true }).pipe(Layer.provide(Layer.mergeAll(base, tracker)))
    }
    const dht = dhtOn({})
    return config.trackers === false
      ? Client.layer({ ...off, dht: dhtOptions }).pipe(Layer.provide(Layer.mergeAll(base, dht)))
      : Client.layer({ ...off, trackers: true, dht: dhtOptions }).pipe(Layer.provide(Layer.mergeAll(base, tracker, dht)))
  }
  const tracker = Layer.unwrap(UdpPort.useSync((p) => trackerOn({ udpSocket: p.tracker })))
  const withPort = <A, E, R>(services: Layer.Layer<A, E, R>) => services.pipe(Layer.provideMerge(udpPort))
  if (dhtOptions === undefined) {
    return config.trackers === false
      ? Client.layer(off).pipe(Layer.provide(withPort(base)))
      : Client.layer({ ...off, trackers: true }).pipe(Layer.provide(withPort(Layer.mergeAll(base, tracker))))
  }
  const dht = Layer.unwrap(UdpPort.useSync((p) => dhtOn(dhtShares ? { socket: p.krpc } : {})))
  return config.trackers === false
    ? Client.layer({ ...off, dht: dhtOptions }).pipe(Layer.provide(withPort(Layer.mergeAll(base, dht))))
    : Client.layer({ ...off, trackers: true, dht: dhtOptions }).pipe(Layer.provide(withPort(Layer.mergeAll(base, tracker, dht))))
}
