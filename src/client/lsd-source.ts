import { Effect, type Scope } from "effect"
import { makeLsd } from "../lsd/index.ts"
import type { Network } from "../net/index.ts"
import type { PeerSource } from "../torrent/index.ts"

/**
 * LSD for a client listening on `host`: announces leave through that interface (a client on
 * 127.0.0.1 keeps them on loopback), through the default one when it listens everywhere.
 * IPv4 only for now. A socket that cannot be opened leaves the client without LSD, with a
 * warning: the other peer sources still work.
 */
export const startLsd = (network: Network["Service"], host: string): Effect.Effect<ReadonlyArray<PeerSource>, never, Scope.Scope> => {
  if (host.includes(":") && host !== "::") return Effect.succeed([])
  const iface = host === "::" || host === "" ? "0.0.0.0" : host
  return makeLsd(network, { interface: iface }).pipe(
    Effect.map((lsd) => [lsd.source]),
    Effect.catch((e) => Effect.logWarning(`local service discovery is off: ${e.message}`).pipe(Effect.as([])))
  )
}
