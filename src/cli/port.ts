/**
 * The listening port when the user did not choose one: 6881, or the next free one. Two
 * clients started with default settings otherwise clash ("address 0.0.0.0:6881 is already
 * in use"); libtorrent and Transmission move on to the next port the same way.
 */
import { Effect } from "effect"
import { Network } from "../net/index.ts"

export const DEFAULT_PORT = 6881
/** 6881-6890, then an ephemeral port. */
const TRIES = 10

/**
 * Whether both TCP and UDP (uTP, the DHT) can bind `port` on `host` right now. Only "in use"
 * counts as taken; any other failure (a privileged port) is left for the client to report.
 */
const isFree = (network: Network["Service"], host: string, port: number) =>
  Effect.scoped(Effect.andThen(network.listen({ host, port }), network.udp({ host, port }))).pipe(
    Effect.as(true),
    Effect.catchTag("AddressInUse", () => Effect.succeed(false)),
    Effect.catch(() => Effect.succeed(true))
  )

/** The first free port from `from` on (0, any port, when ten in a row are taken), and the ports found taken. */
export const pickPort = (host: string, from: number) =>
  Effect.gen(function*() {
    const network = yield* Network
    const taken: Array<number> = []
    for (let port = from; port < Math.min(from + TRIES, 65536); port++) {
      if (yield* isFree(network, host, port)) return { port, taken }
      taken.push(port)
    }
    return { port: 0, taken }
  })

/** What to tell the user when the default port was taken. Pure. */
export const portFallbackLine = (taken: ReadonlyArray<number>, port: number): string =>
  `port ${taken.length === 1 ? taken[0] : `${taken[0]}-${taken[taken.length - 1]}`} is in use (another BitTorrent client?); ` +
  `listening on ${port === 0 ? "a free port the system chose" : `port ${port}`} instead`
