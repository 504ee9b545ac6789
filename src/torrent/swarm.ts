/**
 * The connection side of a torrent: dialling known addresses within the per-torrent
 * and global limits, accepting routed incoming connections, and deciding what a
 * session's ending means (retry later, forget, ban).
 */
import { Clock, Effect, FiberMap, PubSub, type Semaphore } from "effect"
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
import { type DialWake, dialLoop as runDialLoop, type Restore } from "./dialler.ts"
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
  /** This torrent's connections (`maxPeers` permits): one per session, dialled or accepted, from start to end. */
  readonly slots: Semaphore.Semaphore
  /** Wakes the dialler when the peer book has news (addresses added, a connection ended). */
  readonly wake: DialWake
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
        deps.wake.notify()
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
  Effect.suspend(() => {
    const key = peerKey(conn.remote)
    const client = clientFromPeerId(handshake.peerId)
    if (trace !== null) traceHandshakes(trace, conn, client, deps.ours, handshake, dialled, encryption)
    // no generator left suspended for the session's life (issue 15)
    return Effect.andThen(
      PubSub.publish(deps.events, { _tag: "PeerConnected", peer: key, client, encrypted: encryption === "rc4" }),
      runSession(deps.link, conn, framer, handshake, deps.ours.reserved, deps.config.session, { dialled, encryption, client }, trace)
    )
  })

/** Gives back a session's permits (its torrent slot and its client-wide connection) when it ends. */
const releasingSession = <A, E, R>(deps: SwarmDeps, session: Effect.Effect<A, E, R>) =>
  session.pipe(Effect.ensuring(Effect.andThen(deps.slots.release(1), deps.config.budget.connections.release(1))))

/**
 * Dial, handshake (MSE or plaintext, open-peer.ts) and run a session with `address`; the
 * half-open permit is held until the handshake ends.
 */
const dial = (deps: SwarmDeps, address: Address, trace: PeerTrace | null) =>
  Effect.scoped(Effect.suspend(() => {
    trace?.event("out", { type: "connect" })
    return Effect.flatMap(
      openPeer(deps, address).pipe(Effect.ensuring(deps.config.budget.halfOpen.release(1))),
      (opened) => connectedSession(deps, opened.conn, opened.framer, opened.handshake, true, opened.encryption, trace)
    )
  }))

/**
 * Room for one more outgoing connection: a slot of this torrent, a half-open and a
 * connection permit of the client, taken in that order (every dialler takes them in the
 * same order, so none holds one the other waits for while waiting for one it holds).
 * Interrupted while waiting, it gives back what it took.
 */
const takeDialPermits = (deps: SwarmDeps, restore: Restore) => {
  const { slots } = deps
  const { halfOpen, connections } = deps.config.budget
  return Effect.gen(function*() {
    yield* restore(slots.take(1))
    yield* restore(halfOpen.take(1)).pipe(Effect.onInterrupt(() => slots.release(1)))
    yield* restore(connections.take(1)).pipe(Effect.onInterrupt(() => Effect.andThen(halfOpen.release(1), slots.release(1))))
  })
}

const releaseDialPermits = (deps: SwarmDeps) =>
  Effect.andThen(deps.config.budget.halfOpen.release(1), releasingSession(deps, Effect.void))

/**
 * Keeps dialling (dialler.ts) while this torrent and the client have room: the permits
 * are this torrent's slots and the client's budget, and each address becomes a supervised
 * session in `sessions`.
 */
export const dialLoop = (deps: SwarmDeps, sessions: FiberMap.FiberMap<string>): Effect.Effect<never> =>
  runDialLoop({
    book: deps.book,
    wake: deps.wake,
    take: (restore) => takeDialPermits(deps, restore),
    giveBack: releaseDialPermits(deps),
    start: (address, key) =>
      Effect.gen(function*() {
        if (yield* FiberMap.has(sessions, key)) return yield* releaseDialPermits(deps)
        const trace = deps.link.trace === null ? null : deps.link.trace.peer(key)
        // FiberMap.run starts the fiber at once: its finalizer is in place before anything can interrupt it.
        // (a closed FiberMap interrupts instead: the permits go back then)
        yield* FiberMap.run(sessions, key, releasingSession(deps, supervise(deps, key, dial(deps, address, trace), trace))).pipe(
          Effect.onInterrupt(() => releaseDialPermits(deps))
        )
      })
  })

/** How an incoming connection opened: through MSE or not, and how its stream is encrypted. */
export interface IncomingVia {
  readonly opening: Opening
  readonly encryption: "rc4" | "plaintext-negotiated" | "none"
}

/**
 * An incoming connection routed here by info-hash (its 48-byte header already read).
 * Runs the session inside `sessions` so pausing or removing the torrent ends it, and
 * returns at once: the session owns the connection from then on and closes it when it
 * ends (the accept loop's fiber does not wait for it; issue 15).
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
    const { budget, handshakeTimeoutMillis } = deps.config
    if (deps.book.isBanned(key) || (yield* FiberMap.has(sessions, key))) return yield* conn.close
    // Room or not, at once (a full torrent or client turns the peer away); from the permits
    // to the session's fork nothing may interrupt, or the client's permit would leak.
    const started = yield* Effect.uninterruptible(Effect.gen(function*() {
      if (!(yield* deps.slots.takeIfAvailable(1))) return false
      if (!(yield* budget.connections.takeIfAvailable(1))) return yield* deps.slots.release(1).pipe(Effect.as(false))
      deps.book.markConnected(key, conn.remote)
      deps.book.opened(key, via.opening)
      const trace = deps.link.trace === null ? null : deps.link.trace.peer(key, { transport: conn.transport ?? "tcp" })
      trace?.event("in", { type: "accept" })
      // Answered with the name the peer used (a hybrid has two: torrent.ts checked it is ours).
      const ours = { ...deps.ours, infoHash: header.infoHash }
      // made when the fiber runs it: the session's fiber keeps the effect it was given for its
      // whole life, and a traced function's effect holds its call site (an Error) and closures
      const session = Effect.flatMap(
        Effect.suspend(() => handshakeIncoming(conn, framer, header, ours, `${handshakeTimeoutMillis} millis`)),
        (handshake) => connectedSession(deps, conn, framer, handshake, false, via.encryption, trace)
      )
      // A closed FiberMap (the torrent stopping) interrupts instead of running: the permits
      // and the connection go back then.
      yield* FiberMap.run(sessions, key, releasingSession(deps, supervise(deps, key, session, trace)).pipe(Effect.ensuring(conn.close))).pipe(
        Effect.onInterrupt(() => releasingSession(deps, conn.close))
      )
      return true
    }))
    if (!started) yield* conn.close
  })
