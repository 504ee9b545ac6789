/**
 * One UDP socket per listening port, shared by uTP, the DHT and the UDP tracker client,
 * as libtorrent and uTorrent do: a remote that knows our port reaches all three there.
 *
 * **When to use**
 *
 * Build `UdpPort.layer(bind)` once per client and hand its views out: `utp` to the
 * client (outgoing uTP connections and the incoming listener), `krpc` to the DHT node
 * (`DhtConfig.socket`), `tracker` to the tracker client (`TrackerConfig.udpSocket`).
 *
 * **Details**
 *
 * Datagrams are told apart by shape (codec.ts `looksLikeUtp`): a uTP v1 header starts
 * with a byte whose low nibble is 1; a bencoded KRPC message starts with `d`; everything
 * else (BEP 15 replies start with a zero byte) goes to the tracker view. Each view is a
 * `UdpSocket` of its own: a bounded receive queue (or a subscriber), and sends through
 * the shared socket.
 *
 * @example
 * ```ts
 * const port = yield* UdpPort
 * const conn = yield* port.utp.connect({ host: "10.0.0.2", port: 6881 })
 * ```
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { type Address, makeDatagramInbox, type NetError, Network, type UdpSocket } from "../net/index.ts"
import { makeUtpSocket, type UtpSocket, type UtpSocketOptions } from "./socket.ts"

/** Datagrams a view keeps for its reader before dropping new ones. */
const VIEW_BUFFER = 1024
const BENCODED_DICT = 0x64 // "d"

export class UdpPort extends Context.Service<UdpPort, {
  readonly address: Address
  readonly utp: UtpSocket
  /** KRPC datagrams (bencoded dicts): the DHT's socket. */
  readonly krpc: UdpSocket
  /** Every other datagram (BEP 15 tracker replies): the UDP tracker client's socket. */
  readonly tracker: UdpSocket
}>()("effect-torrent/UdpPort") {
  /** Binds `bind` through `Network.udp`; port 0 picks a free port (see `address`). */
  static readonly layer = (bind: Address, options: UtpSocketOptions = {}): Layer.Layer<UdpPort, NetError, Network> =>
    Layer.effect(UdpPort, makeUdpPort(bind, options))
}

/** A `UdpSocket` that sees only the datagrams routed to it and sends through `shared`. */
const makeView = (shared: UdpSocket) => {
  // no burst schedule of its own: the shared socket's `idle` is passed on (below)
  const inbox = makeDatagramInbox(VIEW_BUFFER)
  const socket: UdpSocket = {
    address: shared.address,
    send: shared.send,
    sendNow: shared.sendNow,
    receive: inbox.receive,
    subscribe: inbox.subscribe
  }
  return { socket, deliver: inbox.deliver, idle: inbox.idle, end: inbox.end }
}

/** The shared port on an already bound socket (it subscribes to it). */
export const shareUdpSocket = (
  udp: UdpSocket,
  options: UtpSocketOptions = {}
): Effect.Effect<UdpPort["Service"], never, Scope.Scope> =>
  Effect.gen(function*() {
    const krpc = makeView(udp)
    const tracker = makeView(udp)
    // uTP takes the socket over and hands on what is not uTP
    const shared: UdpSocket = {
      ...udp,
      subscribe: (handler) =>
        udp.subscribe({
          datagram: handler.datagram,
          idle: () => {
            handler.idle()
            krpc.idle()
            tracker.idle()
          },
          end: (error) => {
            handler.end(error)
            krpc.end(error)
            tracker.end(error)
          }
        })
    }
    const utp = yield* makeUtpSocket(shared, {
      ...options,
      other: (payload, from) => (payload[0] === BENCODED_DICT ? krpc : tracker).deliver(payload, from)
    })
    return UdpPort.of({ address: udp.address, utp, krpc: krpc.socket, tracker: tracker.socket })
  })

/** Attempts at an ephemeral port whose number is free for TCP too. */
const EPHEMERAL_ATTEMPTS = 10

/**
 * Binds `bind` and shares it. Port 0 picks a port whose number is also free for a TCP
 * listener (the client listens for TCP peers on the same number): a UDP port the kernel
 * hands out may be taken on the TCP side by another program's connection.
 */
export const makeUdpPort = (bind: Address, options: UtpSocketOptions = {}) =>
  Effect.gen(function*() {
    const network = yield* Network
    if (bind.port !== 0) return yield* shareUdpSocket(yield* network.udp(bind), options)
    const parent = yield* Scope.Scope
    for (let attempt = 1; ; attempt++) {
      const scope = yield* Scope.fork(parent)
      const udp = yield* network.udp(bind).pipe(Scope.provide(scope), Effect.onError(() => Scope.close(scope, Exit.void)))
      const tcpFree = yield* Effect.scoped(network.listen({ host: bind.host, port: udp.address.port })).pipe(
        Effect.as(true),
        Effect.catchTag("AddressInUse", () => Effect.succeed(false))
      )
      if (tcpFree || attempt >= EPHEMERAL_ATTEMPTS) return yield* shareUdpSocket(udp, options).pipe(Scope.provide(scope))
      yield* Scope.close(scope, Exit.void)
    }
  })
