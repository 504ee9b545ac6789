import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Layer } from "effect"
import { NodeNetwork } from "../net/index.ts"
import { FileStorage } from "../storage/index.ts"
import { Client } from "./client.ts"
import type { ClientConfig } from "./config.ts"

/**
 * The client on the real machine: sockets through node:net/node:dgram, files on disk,
 * trackers over HTTP and UDP. Everything it needs is provided.
 */
export const layerNode = (config: ClientConfig = {}): Layer.Layer<Client, unknown> =>
  Client.layer(config).pipe(
    Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer, NodeFileSystem.layer))
  )
