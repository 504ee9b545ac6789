import { Effect, Schedule } from "effect"
import type { PeerSource } from "../torrent/index.ts"
import { ID_LENGTH } from "./id.ts"
import type { Dht } from "./node.ts"

export interface DhtPeerSourceOptions {
  /** Time between lookups. Default 5 minutes. */
  readonly intervalMillis?: number
}

/**
 * Peers from the DHT: at start and then every interval, a get_peers lookup
 * whose peers go to the torrent, followed by announce_peer for our port.
 * Private torrents (BEP 27) never touch the DHT. A 32-byte (v2) info-hash is
 * truncated to 20 bytes, as BEP 52 prescribes for the DHT.
 */
export const dhtPeerSource = (dht: Dht["Service"], options: DhtPeerSourceOptions = {}): PeerSource => (hooks) => {
  if (hooks.isPrivate) return Effect.void
  const infoHash = hooks.infoHash.subarray(0, ID_LENGTH)
  const interval = options.intervalMillis ?? 5 * 60_000
  const round = Effect.gen(function*() {
    hooks.trace?.event("out", { type: "dht-request", method: "announce" })
    const result = yield* dht.announce(infoHash, hooks.port)
    hooks.trace?.event("in", { type: "dht-reply", method: "announce", peers: result.peers.length })
    if (result.peers.length > 0) yield* hooks.addPeers(result.peers, "dht")
  })
  return Effect.forkScoped(Effect.repeat(round, Schedule.spaced(interval))).pipe(Effect.asVoid)
}
