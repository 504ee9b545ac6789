/**
 * `SimNetwork`: the `Network` service over a simulated `World`, one view per host.
 *
 * ```ts
 * const world = yield* SimNetwork.makeWorld({ seed: 7, latencyMs: 25 })
 * const a = SimNetwork.host(world, "10.0.0.1")              // Layer<Network>
 * const b = SimNetwork.host(world, "10.0.0.2", { uploadBps: 1_000_000 })
 * ```
 *
 * A host's `connect` comes from its address (an ephemeral port), and `listen` / `udp`
 * bind there (wildcards "0.0.0.0" and "::" mean the host's own address). The real client
 * runs on it unchanged: it only ever sees the `Network` service.
 */
import { Layer } from "effect"
import { Network } from "../net/index.ts"
import { connect, listen } from "./tcp.ts"
import { udp } from "./udp.ts"
import { type HostOptions, makeWorld, type World } from "./world.ts"

/** The `Network` service of one host (added to the world if new). */
export const networkOf = (world: World, address: string, options?: HostOptions): Network["Service"] => {
  const host = world.addHost(address, options)
  return Network.of({
    connect: connect(world, host),
    listen: listen(world, host),
    udp: udp(world, host)
  })
}

/** `Layer<Network>` for one host of the world. */
export const host = (world: World, address: string, options?: HostOptions): Layer.Layer<Network> =>
  Layer.sync(Network, () => networkOf(world, address, options))

export { makeWorld }
