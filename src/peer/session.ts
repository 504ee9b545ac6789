/**
 * A peer session: one supervised fiber per connection, after the handshake.
 *
 * The session fiber only waits for the end. The reader (frames → messages → picker/storage)
 * runs inside the connection's `readable` callback as chunks arrive; the outbox (outbox.ts)
 * writes at the end of each turn. Each forks a short-lived fiber into the session's FiberSet
 * only when it must wait: the reader for a message's returned effect (a disk write, room in
 * the outbox, the rate limit), the outbox for a full send buffer, a slow read or the rate
 * limit. An idle peer therefore costs one fiber, not three (issue 15: a suspended fiber with
 * its context and wait costs a few KiB, and idle peers are most peers). Housekeeping (request
 * timeouts, snubbing, keep-alive, rates) is `PeerLink.tick`, which the torrent calls for
 * every session from one timer: one wake-up a second per torrent, not per peer. The session ends with a typed
 * `PeerError` when any of them fails or when the torrent asks it to stop; its scope
 * closing interrupts the others and the torrent returns its requests to the picker.
 */
import { Clock, Effect, Exit, FiberSet, Scope } from "effect"
import { peerKey } from "../ids.ts"
import { formatAddress } from "../net/index.ts"
import type { Connection, NetError } from "../net/index.ts"
import { clientFromPeerId, type Framer, type Handshake, supportsExtensionProtocol, supportsFast } from "../wire/index.ts"
import { PeerError } from "./errors.ts"
import type { TorrentLink } from "./link.ts"
import type { PeerTrace, WireTrace } from "../trace/recorder.ts"
import { extensionName } from "./extensions.ts"
import { DEFAULT_SESSION_OPTIONS, type SessionOptions } from "./options.ts"
import { makeOutbox } from "./outbox.ts"
import { PeerSession } from "./peer-session.ts"
import { makeSessionState } from "./session-state.ts"

const netToPeer = (conn: Connection) => (e: NetError) =>
  new PeerError({ reason: "Network", peer: formatAddress(conn.remote), detail: e.message })

/**
 * Sets the session up and returns its run (`runSession`). Untraced: a span per session (and
 * the call site it captures) is kept for the session's whole life, which for an idle peer is
 * most of what it costs (issue 15).
 */
const startSession = Effect.fnUntraced(function*(
  torrent: TorrentLink,
  conn: Connection,
  framer: Framer,
  handshake: Handshake,
  ourReserved: Uint8Array,
  options: SessionOptions = DEFAULT_SESSION_OPTIONS,
  /**
   * `dialled`: we dialled the peer, so its address is where it listens (PEX tells others).
   * `encryption`: a label for the stats ("rc4", "plaintext-negotiated" after MSE, "none");
   * the session itself reads and writes `conn` the same way whatever it is. `client`: the
   * peer id's client name when the caller already made it (one string per peer, not two).
   */
  origin: { readonly dialled: boolean; readonly encryption: string; readonly client?: string } = { dialled: false, encryption: "none" },
  /** This connection's trace (the torrent's, for this peer), or null. */
  trace: PeerTrace | null = null
) {
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const key = peerKey(conn.remote)
  const fast = supportsFast(handshake.reserved) && supportsFast(ourReserved)
  const extended = supportsExtensionProtocol(handshake.reserved) && supportsExtensionProtocol(ourReserved)
  const s = makeSessionState(key, conn, fast, origin.client ?? clientFromPeerId(handshake.peerId), now(), options.maxPipeline, torrent.pieceCount)
  if (conn.transport !== undefined) s.stats.transport = conn.transport
  const toPeerError = netToPeer(conn)
  if (origin.dialled) s.stats.listenAddress = conn.remote
  s.stats.encryption = origin.encryption
  trace?.update({ client: s.stats.client, transport: s.stats.transport, encryption: s.stats.encryption })
  // Tracing off, `wire` is null: one check per message, nothing else.
  const traced: WireTrace | null = trace === null ? null : trace.wire
  const wire: WireTrace | null = traced === null ? null : {
    message: (dir, m) => traced.message(dir, m, m._tag === "Extended" ? extensionName(dir, m.id, s.extensions) : undefined),
    pieceOut: traced.pieceOut
  }
  // The session's short-lived fibers: the first to fail (or die) ends the session, and they
  // are interrupted when it ends (the FiberSet lives in a scope of the session's own).
  const scope = yield* Scope.make()
  const fibers = yield* FiberSet.make<void, PeerError>().pipe(Scope.provide(scope))
  const fork = yield* FiberSet.runtime(fibers)<never>()
  const outbox = yield* makeOutbox(s, conn, torrent, now, toPeerError, fork, wire)
  const session = new PeerSession({
    s,
    torrent,
    options,
    conn,
    framer,
    outbox,
    now,
    fork,
    toPeerError,
    wire,
    extended
  })

  // Our opening: bitfield (or have all / have none), extended handshake, interest.
  const have = yield* torrent.storage.have
  const verified = yield* torrent.storage.verifiedCount
  // A seed sends a full bitfield rather than BEP 6 `have all`: both are valid, and WebTorrent 3
  // never requests from a peer that opened with `have all` (its rarity map ignores it).
  if (fast && verified === 0) session.send({ _tag: "HaveNone" })
  else if (verified > 0) session.send({ _tag: "Bitfield", bits: have })
  if (extended) session.send(session.extendedHandshake())
  torrent.picker.peerHasNone(key)
  torrent.register(session)
  // Unchoking waits for the peer's `interested` (messages.ts): an unchoke sent before it is
  // pointless, and WebTorrent loses one that arrives before it finished setting up its wire.

  // Frames already buffered behind the handshake come first.
  const first = session.handleFrames()
  if (first === undefined) conn.readable(session.onChunk, session.onEnd, true)
  else fork(first)

  // Returned, not yielded: this generator (its registers hold every local above) ends here
  // instead of staying suspended for the session's whole life (issue 15).
  return FiberSet.join(fibers).pipe(
    Effect.andThen(Effect.never),
    Effect.tapError((e) =>
      e.reason === "Protocol" || e.reason === "Banned"
        ? Effect.logWarning(`peer ${key} (${s.stats.client}): ${e.detail}; disconnected`)
        : Effect.logDebug(`peer ${key} (${s.stats.client}): ${e.detail}`)
    ),
    Effect.ensuring(Effect.suspend(() => Effect.andThen(session.finish(), Scope.close(scope, Exit.void))))
  )
})

/** Runs the session until it ends; it always ends with a `PeerError` (which may be a plain shutdown). */
export const runSession = (...args: Parameters<typeof startSession>): Effect.Effect<never, PeerError> =>
  Effect.flatten(startSession(...args))
