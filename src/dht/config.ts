import type { Address, UdpSocket } from "../net/index.ts"
import type { RateLimit } from "./rate-limit.ts"

/** The well-known public DHT routers. Tests must never use these: they pass explicit 127.0.0.1 nodes. */
export const DEFAULT_BOOTSTRAP: ReadonlyArray<string> = [
  "router.bittorrent.com:6881",
  "dht.transmissionbt.com:6881",
  "router.utorrent.com:6881",
  "dht.libtorrent.org:25401"
]

export interface DhtConfig {
  /**
   * UDP address to bind; port 0 picks a free port. Ignored when `socket` is given. Its family
   * decides the DHTs (BEP 32) the node joins: `::` both (dual-stack), an IPv4 address the IPv4
   * DHT, any other IPv6 address (`::1`) the IPv6 DHT.
   */
  readonly bind: Address
  /**
   * A second socket, for the IPv6 DHT, beside an IPv4 `bind`/`socket` (an IPv6 address, e.g.
   * `::1`). Without it the IPv6 DHT runs where the main socket can reach IPv6.
   */
  readonly bind6?: Address
  /**
   * A socket to use instead of binding one: the client's shared UDP port (utp/port.ts),
   * whose KRPC datagrams it receives. Its owner closes it.
   */
  readonly socket?: UdpSocket
  /**
   * `host:port` strings or addresses (`[::1]:6881` for an IPv6 node); default `DEFAULT_BOOTSTRAP`.
   * IP literals bootstrap their family's DHT; host names every DHT the node joins.
   */
  readonly bootstrap?: ReadonlyArray<string | Address>
  /** Our node id; default: the one in `stateFile`, else random (Effect's Random). */
  readonly nodeId?: Uint8Array
  /** Routing table persisted here: loaded on start, saved on close. */
  readonly stateFile?: string
  /** Per-attempt query timeout. Default 2000 ms. */
  readonly queryTimeoutMillis?: number
  /** Attempts per query (same transaction id). Default 2. */
  readonly queryAttempts?: number
  /** All incoming queries together. Default 200/s, burst 400. */
  readonly globalRateLimit?: RateLimit
  /** Incoming queries per source address. Default 20/s, burst 50. */
  readonly sourceRateLimit?: RateLimit
  /** Run the bootstrap lookup when the node starts. Default true. */
  readonly bootstrapOnStart?: boolean
  /** How often stale buckets are looked for. Default 60 000 ms. */
  readonly refreshCheckMillis?: number
}
