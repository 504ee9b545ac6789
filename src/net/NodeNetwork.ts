import { Layer } from "effect"
import { Network } from "./Network.ts"
import { connect, listen } from "./node-tcp.ts"
import { udp } from "./node-udp.ts"

/**
 * The `Network` service on the real machine: node:net for TCP, node:dgram for UDP.
 *
 * **Example**
 *
 * ```ts
 * Client.layer(config).pipe(Layer.provide([NodeNetwork.layer, FileStorage.layer, ...]))
 * ```
 */
export const layer: Layer.Layer<Network> = Layer.succeed(Network, Network.of({ connect, listen, udp }))
