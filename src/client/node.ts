import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { FetchHttpClient } from "effect/http"
import { Effect, Layer } from "effect"
import { NodeNetwork } from "../net/index.ts"
import { FileStorage, PieceHasher } from "../storage/index.ts"
import { Dht, make as makeDht } from "../dht/index.ts"
import { Tracker } from "../tracker/index.ts"
import { Client } from "./client.ts"
import type { ClientConfig } from "./config.ts"
import { ClientError } from "./errors.ts"

/**
 * The client on the real machine: sockets through node:net/node:dgram, files on disk with
 * pieces hashed in worker threads, trackers over HTTP and UDP (unless `trackers: false`), the
 * DHT when `config.dht` is given. Everything it needs is provided.
 *
 * Fails with `ClientError` "Listen" when the peer port or the DHT's UDP port cannot be bound.
 */
export const layerNode = (config: ClientConfig = {}): Layer.Layer<Client, ClientError> => {
  // UDP trackers are asked from the interface peers reach us on.
  const udpBind = { host: config.host ?? "0.0.0.0", port: 0 }
  const tracker = Tracker.layer({ udpBind }).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer)))
  const storage = config.hashThreads === 0
    ? FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))
    : FileStorage.layerWithHasher.pipe(Layer.provide(Layer.mergeAll(
      PieceHasher.layerWorkers(config.hashThreads === undefined ? {} : { threads: config.hashThreads }),
      NodeFileSystem.layer
    )))
  const base = Layer.mergeAll(NodeNetwork.layer, storage, NodeFileSystem.layer)
  // Each branch names what it turns on, so Client.layer's requirements are exactly what is provided.
  const off = { ...config, trackers: false, dht: undefined } as const
  const dhtOptions = config.dht
  if (dhtOptions === undefined) {
    return config.trackers === false
      ? Client.layer(off).pipe(Layer.provide(base))
      : Client.layer({ ...off, trackers: true }).pipe(Layer.provide(Layer.mergeAll(base, tracker)))
  }
  const dht = Layer.effect(
    Dht,
    makeDht({
      bind: { host: config.host ?? "0.0.0.0", port: dhtOptions.port ?? (typeof config.port === "number" ? config.port : 0) },
      ...(dhtOptions.bootstrap === undefined ? {} : { bootstrap: dhtOptions.bootstrap }),
      ...(dhtOptions.stateFile === undefined ? {} : { stateFile: dhtOptions.stateFile })
    }).pipe(Effect.mapError((e) => new ClientError({ reason: "Listen", detail: `DHT: ${e.message}` })))
  ).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)))
  return config.trackers === false
    ? Client.layer({ ...off, dht: dhtOptions }).pipe(Layer.provide(Layer.mergeAll(base, dht)))
    : Client.layer({ ...off, trackers: true, dht: dhtOptions }).pipe(Layer.provide(Layer.mergeAll(base, tracker, dht)))
}
