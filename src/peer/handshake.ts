/**
 * The BEP 3 handshake over a `Connection`, both ways, with its timeout and its checks.
 *
 * **When to use**
 *
 * `handshakeOutgoing` right after dialling a peer. For incoming connections, read the 48-byte
 * header first (`readHandshakeHeader`), route the connection by its info-hash, then finish
 * with `handshakeIncoming`, which answers at once and then reads the peer id. Either returns
 * the peer's handshake, and leaves in the framer whatever the peer sent after it.
 *
 * **Details**
 *
 * - The whole exchange is bounded by one timeout, on Effect's clock (virtual in the simulator).
 * - A handshake for another torrent, a bad protocol string, or our own peer id (we dialled
 *   ourselves) fails with a `PeerError` of reason `Handshake`; a timeout with `Timeout`; socket
 *   trouble with `Network`.
 *
 * **Example**
 *
 * ```ts
 * const framer = makeFramer()
 * const theirs = yield* handshakeOutgoing(conn, framer, { infoHash, peerId, reserved }, "10 seconds")
 * // theirs.peerId, theirs.reserved (extension bits); later frames are already in `framer`
 * ```
 */
import { Effect, Result } from "effect"
import type { Duration } from "effect"
import { bytesEqual } from "../bytes.ts"
import { type Connection, formatAddress, type NetError } from "../net/index.ts"
import { encodeHandshake, type Framer, type Handshake, type HandshakeHeader } from "../wire/index.ts"
import { PeerError } from "./errors.ts"

const networkError = (conn: Connection) => (e: NetError) =>
  new PeerError({ reason: "Network", peer: formatAddress(conn.remote), detail: e.message })

/** Pull chunks into the framer until `take` yields a value (or fails). */
const readUntil = <A>(
  conn: Connection,
  framer: Framer,
  take: () => Result.Result<A | undefined, { readonly message: string }>
): Effect.Effect<A, PeerError> =>
  Effect.gen(function*() {
    while (true) {
      const r = take()
      if (Result.isFailure(r)) {
        return yield* new PeerError({ reason: "Handshake", peer: formatAddress(conn.remote), detail: r.failure.message })
      }
      if (r.success !== undefined) return r.success
      framer.push(yield* conn.read.pipe(Effect.mapError(networkError(conn))))
    }
  })

/** The 48-byte header (protocol, reserved bits, info-hash): enough to route an incoming connection. */
export const readHandshakeHeader = (conn: Connection, framer: Framer): Effect.Effect<HandshakeHeader, PeerError> =>
  readUntil(conn, framer, () => framer.takeHandshakeHeader())

/** The peer id that follows the header. */
export const readPeerId = (conn: Connection, framer: Framer): Effect.Effect<Uint8Array, PeerError> =>
  readUntil(conn, framer, () => Result.succeed(framer.take(20)))

export interface OurHandshake {
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly reserved: Uint8Array
  /**
   * BEP 52 upgrade: a hybrid named by its SHA-1 hash with the v2 bit set may be answered with
   * its truncated SHA-256 name (libtorrent does so over plaintext); that reply is ours too.
   */
  readonly upgradedName?: Uint8Array
}

/** Checks what BEP 3 requires of the remote handshake, and drops connections to ourselves. */
export const validateHandshake = (
  conn: Connection,
  ours: OurHandshake,
  theirs: Handshake
): Effect.Effect<Handshake, PeerError> => {
  const peer = formatAddress(conn.remote)
  const upgraded = ours.upgradedName !== undefined && bytesEqual(theirs.infoHash, ours.upgradedName)
  if (!bytesEqual(theirs.infoHash, ours.infoHash) && !upgraded) {
    return Effect.fail(new PeerError({ reason: "Handshake", peer, detail: "handshake for another torrent" }))
  }
  if (bytesEqual(theirs.peerId, ours.peerId)) {
    return Effect.fail(new PeerError({ reason: "Handshake", peer, detail: "connected to ourselves" }))
  }
  return Effect.succeed(theirs)
}

const withinHandshakeTimeout = (conn: Connection, timeout: Duration.Input) =>
<A>(effect: Effect.Effect<A, PeerError>): Effect.Effect<A, PeerError> =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new PeerError({ reason: "Timeout", peer: formatAddress(conn.remote), detail: "handshake timed out" }))
    })
  )

/**
 * Outgoing side: send our handshake, then read and check theirs, all within `timeout`.
 * Bytes the peer sent after its handshake stay in `framer`. `sent`: ours already went out
 * (inside an MSE handshake, as its initial payload).
 */
export const handshakeOutgoing = Effect.fn("PeerSession.handshakeOutgoing")(function*(
  conn: Connection,
  framer: Framer,
  ours: OurHandshake,
  timeout: Duration.Input,
  sent = false
) {
  return yield* Effect.gen(function*() {
    if (!sent) yield* conn.write(encodeHandshake(ours)).pipe(Effect.mapError(networkError(conn)))
    const theirs = yield* readUntil(conn, framer, () => framer.takeHandshake())
    return yield* validateHandshake(conn, ours, theirs)
  }).pipe(withinHandshakeTimeout(conn, timeout))
})

/**
 * Incoming side, after the header was read and routed: answer at once (BEP 3 lets the
 * receiver reply as soon as it sees the info-hash), then read the peer id.
 */
export const handshakeIncoming = Effect.fn("PeerSession.handshakeIncoming")(function*(
  conn: Connection,
  framer: Framer,
  header: HandshakeHeader,
  ours: OurHandshake,
  timeout: Duration.Input
) {
  return yield* Effect.gen(function*() {
    yield* conn.write(encodeHandshake(ours)).pipe(Effect.mapError(networkError(conn)))
    const peerId = yield* readPeerId(conn, framer)
    return yield* validateHandshake(conn, ours, { ...header, peerId })
  }).pipe(withinHandshakeTimeout(conn, timeout))
})
