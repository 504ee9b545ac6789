import { Layer } from "effect"
import { Network } from "./Network.ts"
import { connect, listen } from "./node-tcp.ts"
import { udp } from "./node-udp.ts"

/** The real network: node:net and node:dgram. */
export const layer: Layer.Layer<Network> = Layer.succeed(Network, Network.of({ connect, listen, udp }))
