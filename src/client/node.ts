import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Layer } from "effect"
import { NodeNetwork } from "../net/index.ts"
import { FileStorage } from "../storage/index.ts"
import { Tracker } from "../tracker/index.ts"
import { Client } from "./client.ts"
import type { ClientConfig } from "./config.ts"

/**
 * The client on the real machine: sockets through node:net/node:dgram, files on disk,
 * trackers over HTTP and UDP. Everything it needs is provided.
 */
export const layerNode = (config: ClientConfig = {}): Layer.Layer<Client, unknown> => {
  // UDP trackers are asked from the interface peers reach us on.
  const udpBind = { host: config.host ?? "0.0.0.0", port: 0 }
  const tracker = Tracker.layer({ udpBind }).pipe(Layer.provide(Layer.mergeAll(NodeNetwork.layer, NodeHttpClient.layerNodeHttp)))
  return Client.layer(config).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer, NodeFileSystem.layer, tracker))
  )
}
