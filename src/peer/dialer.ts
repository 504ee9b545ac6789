/**
 * The transport seam: how a peer connection is opened.
 *
 * A peer session reads and writes a `Connection` (net/Network.ts), a reliable, ordered
 * byte stream, and never learns what carries it: TCP, uTP, or a wrapper such as an
 * MSE-encrypting stream over either. Outgoing connections come from a `PeerDialer`;
 * incoming ones from whatever accept loop hands a `Connection` to the client's router
 * (client/listener.ts `routeIncoming`). Those two points are the only places a transport
 * is chosen.
 *
 * **When to use**
 *
 * To change how outgoing peer connections are made (try uTP first), compose a
 * `PeerDialer` and hand it to the torrent (`TorrentConfig.dial`). `tcpDialer` is the
 * plain one. MSE/PE encryption is applied by the torrent over whatever the dialler
 * returns (torrent/open-peer.ts), so it runs over every transport.
 *
 * **Details**
 *
 * A wrapper `Connection` keeps the contract of `Connection`: chunks in order through
 * `read` or `readable`, `offer` returning false while its send buffer is full, `drained`
 * waking the writer. The dialler gets the torrent's 20-byte info-hash (v1, or v2
 * truncated) because an encrypted handshake is keyed by it. Its time-outs are its own;
 * the BitTorrent handshake that follows has the torrent's.
 *
 * @example
 * ```ts
 * const tcp = yield* tcpDialer("10 seconds")
 * const utpFirst: PeerDialer = (address, infoHash) =>
 *   utp(address, infoHash).pipe(Effect.orElse(() => tcp(address, infoHash)))
 * ```
 */
import { type Duration, Effect, type Scope } from "effect"
import { type Address, type Connection, formatAddress, Network } from "../net/index.ts"
import { PeerError } from "./errors.ts"

/**
 * Opens a connection to a peer of the torrent `infoHash` (20 bytes), owned by the caller's
 * scope. Failures are `PeerError`s (`Network` for the transport, `Handshake`/`Timeout` for
 * a wrapper's own handshake).
 */
export type PeerDialer = (address: Address, infoHash: Uint8Array) => Effect.Effect<Connection, PeerError, Scope.Scope>

/** Plain TCP through the `Network` service, connecting within `timeout`. */
export const tcpDialer = (timeout: Duration.Input): Effect.Effect<PeerDialer, never, Network> =>
  Network.useSync((network) => (address) =>
    network.connect(address, { timeout }).pipe(
      Effect.mapError((e) => new PeerError({ reason: "Network", peer: formatAddress(address), detail: e.message }))
    ))
