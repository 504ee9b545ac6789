import type { EncryptionPolicy } from "../mse/index.ts"
import type { SessionOptions, Transport } from "../peer/index.ts"
import { DEFAULT_SESSION_OPTIONS } from "../peer/index.ts"
import { ANY_HOST } from "../net/index.ts"
import { PEER_ID_PREFIX } from "../version.ts"

/** The DHT settings of `ClientConfig.dht`. */
export interface DhtOptions {
  readonly bootstrap?: ReadonlyArray<string>
  readonly port?: number
  readonly stateFile?: string
}

/** Everything a client can be told. Every field has a default (see `resolveConfig`). */
export interface ClientConfig {
  /** Where torrents are saved unless `add` says otherwise. Default: the working directory. */
  readonly downloadDirectory?: string
  /**
   * Interface to listen on (TCP, uTP, the DHT, UDP tracker replies). Default "::": dual-stack,
   * every IPv6 and IPv4 interface (only IPv4's 0.0.0.0 where the machine has no IPv6).
   * Tests use "127.0.0.1" or "::1".
   */
  readonly host?: string
  /** Port to accept peers on; 0 = an ephemeral port, null = do not listen. Default 6881. */
  readonly port?: number | null
  /** Connections across all torrents. Default 200. */
  readonly maxPeers?: number
  /** Connections per torrent. Default 50. */
  readonly maxPeersPerTorrent?: number
  /** Connection attempts in progress at once (half-open). Default 20. */
  readonly maxHalfOpen?: number
  /** Peer-id prefix, BEP 20 style. Default `PEER_ID_PREFIX` ("-ET0100-" for 0.1.0). */
  readonly peerIdPrefix?: string
  /** Regular upload slots per torrent (the optimistic one comes on top). Default 4. */
  readonly uploadSlots?: number
  readonly connectTimeoutMillis?: number
  readonly handshakeTimeoutMillis?: number
  readonly session?: Partial<SessionOptions>
  /**
   * Announce to the trackers a torrent lists (a `Tracker` service). Default true; `Client.layer`
   * then needs a `Tracker` layer, and a missing one is a type error, not a silent "no trackers".
   */
  readonly trackers?: boolean
  /**
   * Download from the web seeds a torrent lists (BEP 19 `url-list`, BEP 17 `httpseeds`), mixed
   * with peers. Default true, as libtorrent; `Client.layer` then needs an `HttpClient` layer
   * (`layerNode` provides fetch's), and a missing one is a type error.
   */
  readonly webSeeds?: boolean
  /**
   * Local Service Discovery (BEP 14): announce public torrents by multicast on the local
   * network (239.192.152.143:6771, through the interface of `host`, one hop) and take the
   * peers heard of. Default false for now: the codec and the announcer/listener are in, but the
   * end-to-end loopback test does not pass yet (see the notes).
   */
  readonly lsd?: boolean
  /**
   * The DHT (BEP 5): off unless given. Given, `Client.layer` needs a `Dht` layer (`layerNode`
   * builds one from these settings). `bootstrap` lists `host:port` nodes to join through
   * (default: the well-known public routers), `port` the UDP port (default: the TCP port),
   * `stateFile` where the routing table persists between runs.
   */
  readonly dht?: DhtOptions | undefined
  /** Log a warning (Effect.logWarning) when a downloading torrent has had no peer for 30 s, saying why there may be none. Default true. */
  readonly noPeersWarning?: boolean
  /**
   * The transports we speak, in the order outgoing connections try them; incoming
   * connections are accepted on each (uTP on the UDP port of the same number as the TCP
   * one). Default `["utp", "tcp"]`, as libtorrent, uTorrent and Transmission do.
   */
  readonly transports?: ReadonlyArray<Transport>
  /**
   * How long the first transport has before the next one is tried beside it (a peer
   * that does not answer uTP costs this once; the client remembers what worked). Default 1000.
   */
  readonly transportFallbackMillis?: number
  /**
   * The same for a peer on loopback or the local network (`isLocalNetwork`: RFC 1918,
   * link-local, unique-local), where libtorrent answers a uTP SYN in 1.5 ms (p99 6 ms,
   * bench/RESULTS.md): a TCP-only peer there costs this instead. Default 50.
   */
  readonly localTransportFallbackMillis?: number
  /** Bytes per second across all torrents; absent = unlimited. */
  readonly uploadLimit?: number
  readonly downloadLimit?: number
  /**
   * `layerNode` only: threads hashing completed pieces off the event loop (`PieceHasher`).
   * Default: cores − 1 (at least 1, at most 4); 0 hashes inline on the event loop.
   */
  readonly hashThreads?: number
  /**
   * MSE/PE, the obfuscated handshake and RC4 stream (README: what it protects against).
   * "prefer" (default): open with MSE offering RC4 and plaintext, retry once the other way
   * when a handshake fails, accept both; "require": RC4 only, both ways; "disable":
   * plaintext BitTorrent only.
   */
  readonly encryption?: EncryptionPolicy
}

export interface ResolvedConfig {
  readonly downloadDirectory: string
  readonly host: string
  readonly port: number | null
  readonly maxPeers: number
  readonly maxPeersPerTorrent: number
  readonly maxHalfOpen: number
  readonly peerIdPrefix: string
  readonly uploadSlots: number
  readonly connectTimeoutMillis: number
  readonly handshakeTimeoutMillis: number
  readonly session: SessionOptions
  readonly trackers: boolean
  readonly webSeeds: boolean
  readonly lsd: boolean
  readonly uploadLimit: number | null
  readonly downloadLimit: number | null
  readonly transports: ReadonlyArray<Transport>
  readonly transportFallbackMillis: number
  readonly localTransportFallbackMillis: number
  readonly encryption: EncryptionPolicy
  readonly noPeersWarning: boolean
}

export const resolveConfig = (config: ClientConfig): ResolvedConfig => ({
  downloadDirectory: config.downloadDirectory ?? ".",
  host: config.host ?? ANY_HOST,
  port: config.port === undefined ? 6881 : config.port,
  maxPeers: config.maxPeers ?? 200,
  maxPeersPerTorrent: config.maxPeersPerTorrent ?? 50,
  maxHalfOpen: config.maxHalfOpen ?? 20,
  peerIdPrefix: config.peerIdPrefix ?? PEER_ID_PREFIX,
  uploadSlots: config.uploadSlots ?? 4,
  connectTimeoutMillis: config.connectTimeoutMillis ?? 10_000,
  handshakeTimeoutMillis: config.handshakeTimeoutMillis ?? 15_000,
  session: { ...DEFAULT_SESSION_OPTIONS, ...config.session },
  trackers: config.trackers ?? true,
  webSeeds: config.webSeeds ?? true,
  lsd: config.lsd ?? false,
  uploadLimit: config.uploadLimit ?? null,
  downloadLimit: config.downloadLimit ?? null,
  // each transport once, in the order given; none at all makes no sense: fall back to the default
  transports: config.transports === undefined || config.transports.length === 0
    ? ["utp", "tcp"]
    : [...new Set(config.transports)],
  transportFallbackMillis: config.transportFallbackMillis ?? 1000,
  localTransportFallbackMillis: config.localTransportFallbackMillis ?? 50,
  noPeersWarning: config.noPeersWarning ?? true,
  encryption: config.encryption ?? "prefer"
})
