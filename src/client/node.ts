import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { FetchHttpClient } from "effect/http"
import { Layer } from "effect"
import { NodeNetwork } from "../net/index.ts"
import { FileStorage, PieceHasher } from "../storage/index.ts"
import { layer as dhtLayer } from "../dht/index.ts"
import { Tracker } from "../tracker/index.ts"
import { Client } from "./client.ts"
import type { ClientConfig } from "./config.ts"

/**
 * The client on the real machine: sockets through node:net/node:dgram, files on disk with
 * pieces hashed in worker threads, trackers over HTTP and UDP. Everything it needs is provided.
 */
export const layerNode = (config: ClientConfig = {}): Layer.Layer<Client, unknown> => {
  // UDP trackers are asked from the interface peers reach us on.
  const udpBind = { host: config.host ?? "0.0.0.0", port: 0 }
  const tracker = Tracker.layer({ udpBind }).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer)))
  const storage = config.hashThreads === 0
    ? FileStorage.layer.pipe(Layer.provide(NodeFileSystem.layer))
    : FileStorage.layerWithHasher.pipe(Layer.provide(Layer.mergeAll(
      PieceHasher.layerWorkers(config.hashThreads === undefined ? {} : { threads: config.hashThreads }),
      NodeFileSystem.layer
    )))
  const base = Layer.mergeAll(NodeNetwork.layer, storage, NodeFileSystem.layer, tracker)
  if (config.dht === undefined) return Client.layer(config).pipe(Layer.provide(base))
  const dht = dhtLayer({
    bind: { host: config.host ?? "0.0.0.0", port: config.dht.port ?? (typeof config.port === "number" ? config.port : 0) },
    ...(config.dht.bootstrap === undefined ? {} : { bootstrap: config.dht.bootstrap }),
    ...(config.dht.stateFile === undefined ? {} : { stateFile: config.dht.stateFile })
  }).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, NodeFileSystem.layer)))
  return Client.layer(config).pipe(Layer.provide(Layer.mergeAll(base, dht)))
}
