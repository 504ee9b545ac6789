import { Context } from "effect"
import type { Duration, Effect, Scope } from "effect"
import type { NetError } from "./errors.ts"

/**
 * The only door to the outside world. Everything above src/net talks to peers,
 * trackers and DHT nodes through this service, so a simulated network can be
 * swapped in with one layer. The shape is deliberately small and byte-oriented:
 * no Node types, no streams, just pull-reads and backpressured writes.
 */

/** An endpoint. `host` is an IP literal or (for outgoing connections / sends) a host name. */
export interface Address {
  readonly host: string
  readonly port: number
}

/**
 * A reliable, ordered byte stream to one remote, owned by the Scope it was
 * created in (closing that Scope closes it). `Network.connect`/`listen` give TCP
 * ones; anything else that keeps this contract (a uTP stream, an encrypting
 * wrapper around another `Connection`) can stand in for them: the peer session
 * reads and writes only through this interface and never learns what carries
 * the bytes (the transport seam, see peer/dialer.ts).
 *
 * - `read` returns the next chunk of bytes (never empty), in order. A clean end
 *   of stream fails with `ConnectionClosed`; anything abnormal with another
 *   `NetError`. One reader at a time.
 * - `readable` is the synchronous form of `read`: every chunk already buffered or
 *   arriving later goes to `consumer`, in order, outside any fiber, until it returns
 *   false; then nothing is delivered until `readable` is called again (the bytes
 *   wait, and TCP pushes back on the peer). Once every chunk is delivered and the
 *   stream has ended, `onEnd` gets the error `read` would fail with (a consumer that
 *   stopped hears of it when it re-arms). Never while a `read` is pending. A peer
 *   session reads this way: a message costs no fiber hand-off. A consumer that `borrows`
 *   copies what it keeps of a chunk before it returns (a framer's `keepRest`): the
 *   connection may then lend it its read buffer, which the next read overwrites (node-tcp's
 *   outgoing connections do), instead of a fresh buffer per read; `lent` is then true.
 *   Others get chunks of their own.
 * - `write` / `writeV` complete once the OS accepted the bytes: a slow peer
 *   suspends the writer instead of growing a buffer. `writeV` sends its chunks
 *   back to back without concatenating them (a piece header and its block).
 *   Concurrent writes keep whole-call atomicity and call order.
 * - `offer` is the synchronous form of `writeV`: it takes the chunks at once, in
 *   call order with every other write, and returns false when the send buffer is
 *   full afterwards (wait for `drained` before offering more). On a connection
 *   that is closed or broken it takes nothing and returns false; `drained` then
 *   fails with the reason. A peer session sends through it: a message costs no
 *   fiber hand-off unless the peer is slower than we are. `written`, when given, is
 *   called once the connection no longer holds the chunks (the OS took them, the
 *   socket dropped them, or they were copied, e.g. encrypted), so their buffers may be
 *   reused; a connection that cannot tell never calls it (TCP calls it, uTP does not).
 * - `drained` completes once the send buffer has room again (at once if it has).
 * - `close` flushes pending writes, sends FIN and releases the socket; later
 *   reads and writes fail with `ConnectionClosed`. Idempotent.
 */
export interface Connection {
  readonly remote: Address
  readonly local: Address
  readonly read: Effect.Effect<Uint8Array, NetError>
  readonly readable: (consumer: (chunk: Uint8Array, lent?: boolean) => boolean, onEnd: (error: NetError) => void, borrows?: boolean) => void
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, NetError>
  readonly writeV: (chunks: ReadonlyArray<Uint8Array>) => Effect.Effect<void, NetError>
  readonly offer: (chunks: ReadonlyArray<Uint8Array>, written?: () => void) => boolean
  readonly drained: Effect.Effect<void, NetError>
  /**
   * The synchronous form of `drained`, where a connection has one (the simulated TCP):
   * undefined when the send buffer has room now, the error `drained` would fail with, or a
   * function that cancels the wait, `wake` being called once, outside any fiber, at the
   * moment `drained` would have completed. A writer then needs no fiber to wait.
   */
  readonly whenDrained?: (wake: () => void) => NetError | (() => void) | undefined
  readonly close: Effect.Effect<void>
  /** What carries the stream, when not TCP ("utp"); wrappers (MSE) pass it on. */
  readonly transport?: string
}

/**
 * A listening TCP socket. `accept` waits for the next incoming connection and
 * hands it to the caller's Scope. Connections nobody accepted yet wait in a
 * bounded queue; beyond it they are closed at once (the accept backlog).
 * See `serve` for a ready-made accept loop.
 */
export interface Listener {
  readonly address: Address
  readonly accept: Effect.Effect<Connection, NetError, Scope.Scope>
}

export interface Datagram {
  readonly payload: Uint8Array
  readonly from: Address
}

/** Synchronous receiver of a UDP socket's datagrams (see `UdpSocket.subscribe`). */
export interface DatagramHandler {
  /** One datagram, outside any fiber. The payload is the handler's to keep. */
  readonly datagram: (payload: Uint8Array, from: Address) => void
  /**
   * The datagrams that arrived together have all been delivered: the moment to answer
   * them in one go (uTP sends one acknowledgement per burst, not one per packet).
   */
  readonly idle: () => void
  /** The socket is gone (closed, or its host crashed); nothing more will come. */
  readonly end: (error: NetError) => void
}

/**
 * A bound UDP socket.
 *
 * - `receive` returns the next datagram (a bounded buffer drops datagrams nobody reads
 *   fast enough, as a real network would).
 * - `subscribe` is the synchronous form: from then on every datagram goes to the handler
 *   as it arrives, and `receive` gets nothing. One subscriber per socket. What uTP's
 *   multiplexer reads with: a packet costs no fiber hand-off.
 * - `send` completes once the OS took the datagram.
 * - `sendNow` is the synchronous, fire-and-forget form (UDP may lose a datagram anyway):
 *   `to.host` must be an IP literal; false when the socket is closed. The buffer must not
 *   change until the datagram left (the caller keeps it unchanged for milliseconds at least).
 */
export interface UdpSocket {
  readonly address: Address
  readonly send: (payload: Uint8Array, to: Address) => Effect.Effect<void, NetError>
  readonly receive: Effect.Effect<Datagram, NetError>
  readonly subscribe: (handler: DatagramHandler) => void
  readonly sendNow: (payload: Uint8Array, to: Address) => boolean
}

/**
 * Options of a UDP socket beyond its address.
 *
 * - `reuseAddress`: several sockets (of this or other programs) may bind the same port
 *   (SO_REUSEADDR), as multicast listeners on one machine must.
 * - `multicast`: the socket joins `group` on the interface with address `interface` and
 *   receives what is sent to `group:port`; datagrams it sends to a group leave through that
 *   interface with `ttl` (default 1: the local link only) and reach this host's own members
 *   too when `loopback` (default true).
 */
export interface UdpOptions {
  readonly reuseAddress?: boolean
  readonly multicast?: {
    readonly group: string
    readonly interface: string
    readonly ttl?: number
    readonly loopback?: boolean
  }
}

export interface ConnectOptions {
  /** Default: 10 seconds. */
  readonly timeout?: Duration.Input
}

/**
 * The only door to the outside world: TCP connections and listeners, UDP sockets.
 *
 * **When to use**
 *
 * Provide `NodeNetwork.layer` to run on the real machine, or a simulated host
 * (`SimNetwork.host(world, address)` from `effect-torrent/sim`) to run a client on a
 * deterministic virtual network. The client, its trackers and its DHT node reach peers only
 * through this service.
 *
 * **Details**
 *
 * Every socket belongs to the `Scope` it was made in and closes with it. Writes complete only
 * when the OS took the bytes, so a slow peer suspends its writer instead of growing a buffer.
 */
export class Network extends Context.Service<Network, {
  readonly connect: (address: Address, options?: ConnectOptions) => Effect.Effect<Connection, NetError, Scope.Scope>
  /** Port 0 binds an ephemeral port; the bound one is in `Listener.address`. */
  readonly listen: (address: Address) => Effect.Effect<Listener, NetError, Scope.Scope>
  /** Port 0 binds an ephemeral port; the bound one is in `UdpSocket.address`. See `UdpOptions` for multicast. */
  readonly udp: (bind: Address, options?: UdpOptions) => Effect.Effect<UdpSocket, NetError, Scope.Scope>
}>()("effect-torrent/Network") {}
