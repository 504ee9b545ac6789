/**
 * The connection side of a torrent: dialling known addresses within the per-torrent
 * and global limits, accepting routed incoming connections, and deciding what a
 * session's ending means (retry later, forget, ban).
 */
import { Clock, Effect, Fiber, FiberMap, PubSub } from "effect"
import { type PeerKey, peerKey } from "../ids.ts"
import type { Address, Connection } from "../net/index.ts"
import {
  handshakeIncoming,
  type OurHandshake,
  PeerError,
  runSession,
  type TorrentLink
} from "../peer/index.ts"
import { clientFromPeerId, type Framer, type HandshakeHeader } from "../wire/index.ts"
import type { TorrentConfig } from "./config.ts"
import { openPeer } from "./open-peer.ts"
import type { Opening, PeerBook } from "./peer-book.ts"
import { type PeerTrace, traceHandshakes } from "../trace/recorder.ts"
import type { TorrentEvent } from "./state.ts"

export interface SwarmDeps {
  readonly config: TorrentConfig
  readonly link: TorrentLink
  readonly book: PeerBook
  readonly ours: OurHandshake
  readonly events: PubSub.PubSub<TorrentEvent>
  /** Connected sessions of this torrent. */
  readonly connected: () => number
}

const isFailure = (e: PeerError): boolean => e.reason !== "Shutdown"

/** Runs one session to its end and books the outcome. Never fails. */
const supervise = <R>(deps: SwarmDeps, key: PeerKey, session: Effect.Effect<never, PeerError, R>, trace: PeerTrace | null) =>
  session.pipe(
    Effect.catch((e: PeerError) =>
      Effect.gen(function*() {
        trace?.event(undefined, { type: "close", reason: e.reason, detail: e.detail })
        const now = yield* Clock.currentTimeMillis
        // A connection to ourselves is never worth another try.
        if (e.reason === "Handshake" && e.detail === "connected to ourselves") deps.book.ban(key)
        deps.book.markDisconnected(key, isFailure(e), now)
        yield* PubSub.publish(deps.events, { _tag: "PeerDisconnected", peer: key, kind: e.reason, reason: e.message })
        yield* Effect.logDebug(`peer ${key} disconnected: ${e.message}`)
      })
    )
  )

const connectedSession = (
  deps: SwarmDeps,
  conn: Connection,
  framer: Framer,
  handshake: Parameters<typeof runSession>[3],
  dialled: boolean,
  encryption: IncomingVia["encryption"],
  trace: PeerTrace | null
) =>
  Effect.gen(function*() {
    const { budget } = deps.config
    budget.connections++
    yield* Effect.addFinalizer(() => Effect.sync(() => { budget.connections-- }))
    const key = peerKey(conn.remote)
    const client = clientFromPeerId(handshake.peerId)
    if (trace !== null) traceHandshakes(trace, conn, client, deps.ours, handshake, dialled, encryption)
    yield* PubSub.publish(deps.events, { _tag: "PeerConnected", peer: key, client, encrypted: encryption === "rc4" })
    return yield* runSession(deps.link, conn, framer, handshake, deps.ours.reserved, deps.config.session, { dialled, encryption }, trace)
  })

/**
 * Dial, handshake (MSE or plaintext, open-peer.ts) and run a session with `address`; the
 * half-open slot is held until the handshake ends.
 */
const dial = (deps: SwarmDeps, address: Address, trace: PeerTrace | null) =>
  Effect.scoped(Effect.gen(function*() {
    trace?.event("out", { type: "connect" })
    const { budget } = deps.config
    budget.halfOpen++
    const opened = yield* openPeer(deps, address).pipe(Effect.ensuring(Effect.sync(() => { budget.halfOpen-- })))
    return yield* connectedSession(deps, opened.conn, opened.framer, opened.handshake, true, opened.encryption, trace)
  }))

/**
 * Keeps dialling while this torrent and the client have room. Wakes every 500 ms:
 * cheap, and quick enough to refill slots after disconnects.
 */
export const dialLoop = (deps: SwarmDeps, sessions: FiberMap.FiberMap<string>) =>
  Effect.gen(function*() {
    const { budget, maxPeers } = deps.config
    while (true) {
      const now = yield* Clock.currentTimeMillis
      while (
        deps.connected() + budget.halfOpen < maxPeers &&
        budget.connections + budget.halfOpen < budget.maxConnections &&
        budget.halfOpen < budget.maxHalfOpen
      ) {
        const address = deps.book.next(now)
        if (address === undefined) break
        const key = peerKey(address)
        if (yield* FiberMap.has(sessions, key)) continue
        const trace = deps.link.trace === null ? null : deps.link.trace.peer(key)
        yield* FiberMap.run(sessions, key, supervise(deps, key, dial(deps, address, trace), trace))
      }
      yield* Effect.sleep("500 millis")
    }
  })

/** How an incoming connection opened: through MSE or not, and how its stream is encrypted. */
export interface IncomingVia {
  readonly opening: Opening
  readonly encryption: "rc4" | "plaintext-negotiated" | "none"
}

/**
 * An incoming connection routed here by info-hash (its 48-byte header already read).
 * Runs the session inside `sessions` so pausing or removing the torrent ends it, and
 * waits for it so the caller keeps the socket's scope open meanwhile.
 */
export const acceptIncoming = (
  deps: SwarmDeps,
  sessions: FiberMap.FiberMap<string>,
  conn: Connection,
  framer: Framer,
  header: HandshakeHeader,
  via: IncomingVia
) =>
  Effect.gen(function*() {
    const key = peerKey(conn.remote)
    const { budget, maxPeers, handshakeTimeoutMillis } = deps.config
    if (
      deps.book.isBanned(key) || deps.connected() >= maxPeers || budget.connections >= budget.maxConnections ||
      (yield* FiberMap.has(sessions, key))
    ) {
      return yield* conn.close
    }
    deps.book.markConnected(key, conn.remote)
    deps.book.opened(key, via.opening)
    const trace = deps.link.trace === null ? null : deps.link.trace.peer(key, { transport: conn.transport ?? "tcp" })
    trace?.event("in", { type: "accept" })
    const session = Effect.gen(function*() {
      const handshake = yield* handshakeIncoming(conn, framer, header, deps.ours, `${handshakeTimeoutMillis} millis`)
      return yield* Effect.scoped(connectedSession(deps, conn, framer, handshake, false, via.encryption, trace))
    })
    const fiber = yield* FiberMap.run(sessions, key, supervise(deps, key, session, trace))
    yield* Fiber.await(fiber)
  })
