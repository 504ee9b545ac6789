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
import { Clock, Effect, Exit, FiberSet, Result, Scheduler, Scope } from "effect"
import { peerKey } from "../ids.ts"
import { formatAddress, ipBytes } from "../net/index.ts"
import type { Connection, NetError } from "../net/index.ts"
import {
  Bitfield,
  clientFromPeerId,
  extendedHandshakeMessage,
  type Framer,
  type Handshake,
  type Message,
  supportsExtensionProtocol,
  supportsFast
} from "../wire/index.ts"
import { PeerError } from "./errors.ts"
import type { PeerLink, TorrentLink } from "./link.ts"
import type { PeerTrace, WireTrace } from "../trace/recorder.ts"
import { extensionName, ourExtensions } from "./extensions.ts"
import { handleMessage, readAfterYield } from "./messages.ts"
import { DEFAULT_SESSION_OPTIONS, type SessionOptions } from "./options.ts"
import { DEFAULT_PIPELINE, pipelineDepth } from "./pipeline.ts"
import { makeOutbox } from "./outbox.ts"
import { makeSessionState } from "./session-state.ts"

/** Blocks requested at once from a peer with a deep pipeline (a quarter of a 1 MiB piece). */
const REQUEST_BATCH = 16

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
  const extendedHandshake = () =>
    extendedHandshakeMessage({
      m: ourExtensions(torrent.isPrivate),
      metadata_size: torrent.metadata.length,
      v: options.clientVersion,
      reqq: options.maxUploadQueue,
      ...(options.listenPort === null ? {} : { p: options.listenPort }),
      ...(yourIp === undefined ? {} : { yourip: yourIp }),
      ...(torrent.isComplete() ? { upload_only: true } : {})
    })
  // BEP 10 `yourip`: the address we see the peer at, which helps it learn its external IP.
  const yourIp = ipBytes(conn.remote.host)
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
  const dispatcher = (yield* Scheduler.Scheduler).makeDispatcher()
  const outbox = yield* makeOutbox(s, conn, torrent, now, toPeerError, (writer) => void fork(writer), wire)
  const { picker, storage } = torrent

  const send = (message: Message): void => {
    if (!outbox.send(message)) end("Timeout", "peer stopped reading (send queue full)")
  }
  const end = (reason: PeerError["reason"], detail: string): void => {
    fork(Effect.fail(new PeerError({ reason, peer: key, detail })))
  }

  const updateInterest = (): void => {
    const want = picker.isInteresting(key)
    if (want !== s.stats.amInterested) {
      s.stats.amInterested = want
      send({ _tag: want ? "Interested" : "NotInterested" })
    }
  }

  let limits = DEFAULT_PIPELINE
  /**
   * Top up the request pipeline to the bandwidth-delay product of this peer. A deep pipeline
   * is topped up in batches (`REQUEST_BATCH` blocks, or a quarter of it): this runs for every
   * block received, and one pick and one write per batch cost far less than one per block.
   */
  const fill = (): void => {
    if (s.stats.peerChoking || !s.stats.amInterested) return
    if (limits.max !== s.maxPipeline) limits = { ...DEFAULT_PIPELINE, max: s.maxPipeline }
    const depth = s.stats.snubbed ? 1 : pipelineDepth(s.downloadMeter.rate(now()), limits)
    s.stats.pipelineDepth = depth
    const room = depth - s.requests.size
    if (room <= 0) return
    if (s.requests.size > 0 && room < Math.min(REQUEST_BATCH, depth >> 2)) return
    const sentAt = now()
    for (const block of picker.pick(key, room, torrent.random)) {
      s.requests.set(`${block.piece}:${block.begin}`, { block, sentAt })
      send({ _tag: "Request", index: block.piece, begin: block.begin, length: block.length })
    }
    s.stats.inflight = s.requests.size
  }

  const link: PeerLink = {
    stats: s.stats,
    send,
    cancelRequest: (block) => {
      if (s.requests.delete(`${block.piece}:${block.begin}`)) {
        send({ _tag: "Cancel", index: block.piece, begin: block.begin, length: block.length })
      }
    },
    pieceVerified: (piece) => {
      // Have suppression: a peer that has the piece gains nothing from hearing we do too.
      if (!Bitfield.get(s.peerPieces, piece)) send({ _tag: "Have", index: piece })
      updateInterest()
    },
    setChoked: (choked) => {
      if (choked === s.stats.amChoking) return
      s.stats.amChoking = choked
      send({ _tag: choked ? "Choke" : "Unchoke" })
      if (choked) {
        // BEP 6: with the fast extension every dropped request is rejected explicitly.
        for (const [k, block] of s.uploads) {
          s.uploads.delete(k)
          if (fast) send({ _tag: "Reject", index: block.piece, begin: block.begin, length: block.length })
        }
      }
    },
    // Interest first: the wanted set may have changed (files selected, a piece failed).
    wake: () => {
      updateInterest()
      fill()
    },
    tick: () => {
      const t = now()
      s.stats.downloadRate = s.downloadMeter.rate(t)
      s.stats.uploadRate = s.uploadMeter.rate(t)
      let expired = false
      for (const [k, req] of s.requests) {
        if (t - req.sentAt < options.requestTimeoutMillis) continue
        s.requests.delete(k)
        picker.requestTimedOut(key, req.block)
        expired = true
      }
      s.stats.snubbed = s.requests.size > 0 && t - s.lastBlockAt > options.snubTimeoutMillis
      s.stats.inflight = s.requests.size
      if (expired) torrent.wakeAll()
      if (t - s.lastReceivedAt > options.idleTimeoutMillis) return end("Timeout", "peer went silent")
      if (t - s.lastSentAt > options.keepAliveMillis) send({ _tag: "KeepAlive" })
      fill()
    },
    // BEP 10 lets either side send its handshake again to update what it said.
    uploadOnly: () => {
      if (extended) send(extendedHandshake())
    },
    sendExtended: (name, payload) => {
      const id = s.extensions[name]
      if (id === undefined || id === 0) return false
      send({ _tag: "Extended", id, payload })
      return true
    },
    disconnect: (reason, detail) => end(reason, detail)
  }

  // Our opening: bitfield (or have all / have none), extended handshake, interest.
  const have = yield* storage.have
  const verified = yield* storage.verifiedCount
  // A seed sends a full bitfield rather than BEP 6 `have all`: both are valid, and WebTorrent 3
  // never requests from a peer that opened with `have all` (its rarity map ignores it).
  if (fast && verified === 0) send({ _tag: "HaveNone" })
  else if (verified > 0) send({ _tag: "Bitfield", bits: have })
  if (extended) send(extendedHandshake())
  picker.peerHasNone(key)
  torrent.register(link)
  // Unchoking waits for the peer's `interested` (messages.ts): an unchoke sent before it is
  // pointless, and WebTorrent loses one that arrives before it finished setting up its wire.

  const unchoke = () => link.setChoked(false)
  const ctx = { s, torrent, options, send, reply: outbox.reply, end, fill, signalUploads: outbox.uploadsAdded, updateInterest, unchoke, now }

  // The reader: frames are handled as chunks arrive, inside `Connection.readable`'s
  // callback, with no fiber hand-off per chunk (handleMessage is synchronous on its common
  // paths). What only a fiber can do (a message's returned effect: a disk write, a wait for
  // room, the rate limit) stops the flow and forks a fiber, which runs it, handles what is
  // buffered and re-arms the callback. The session state is touched by one of the two at a time.
  let pending: Effect.Effect<void, PeerError> | undefined
  let reading = true
  /**
   * Handles the buffered frames: undefined when all were handled (read on), else what must
   * run in a fiber (the pending effect, then more frames; or the session's end).
   */
  const handleFrames = (): Effect.Effect<void, PeerError> | undefined => {
    try {
      // `reading` turns false when the session ends, possibly inside handleMessage (a ban)
      while (reading) {
        const next = framer.nextMessage()
        if (Result.isFailure(next)) {
          // An unknown message id is a future extension, not a violation: skip the frame.
          if (next.failure.recoverable) continue
          return Effect.fail(new PeerError({ reason: "Protocol", peer: key, detail: next.failure.message }))
        }
        if (next.success === undefined) return undefined
        s.lastReceivedAt = now()
        if (wire !== null) wire.message("in", next.success)
        const rest = handleMessage(ctx, next.success)
        if (rest !== Effect.void) {
          pending = rest
          return resume
        }
      }
      return Effect.void
    } catch (cause) {
      // a bug must not escape into the network layer: it ends this session as a defect
      return Effect.die(cause)
    }
  }
  /** Runs the pending effect, then handles frames until they need no fiber, then reads on. */
  const resume: Effect.Effect<void, PeerError> = Effect.suspend(() => {
    const rest = pending ?? Effect.void
    pending = undefined
    return Effect.andThen(rest, Effect.suspend(() => readOn(handleFrames())))
  })
  const readOn = (stall: Effect.Effect<void, PeerError> | undefined): Effect.Effect<void, PeerError> => {
    if (stall !== undefined) return stall
    conn.readable(onChunk, onEnd)
    return Effect.void
  }
  const onChunk = (chunk: Uint8Array): boolean => {
    if (!reading) return false
    framer.push(chunk)
    const stall = handleFrames()
    if (stall === undefined) return true
    if (stall === resume && pending === readAfterYield) {
      // nothing to run, only the yield: a task does what the fiber below would do, without one
      pending = undefined
      dispatcher.scheduleTask(readLater, 0)
      return false
    }
    // after a yield: the fiber must not re-arm `readable` from inside its own callback
    fork(Effect.andThen(Effect.yieldNow, stall))
    return false
  }
  /**
   * What the fiber of `onChunk` does after its yield when it has nothing to run first (a
   * block taken synchronously, no limit in force): handle the buffered frames and read on.
   * The same steps at the same moment (the yield is one task on the same scheduler), so the
   * same order of events; per block received, a fiber and its wake-ups fewer.
   */
  const readLater = (): void => {
    while (true) {
      const stall = handleFrames()
      if (stall === undefined) return conn.readable(onChunk, onEnd)
      if (stall === resume && pending === readAfterYield) {
        pending = undefined
        continue
      }
      // what the fiber would go on to run (it is forked and runs at once)
      if (stall !== Effect.void) fork(stall)
      return
    }
  }
  const onEnd = (error: NetError): void => {
    fork(Effect.fail(toPeerError(error)))
  }
  // Frames already buffered behind the handshake come first.
  const first = handleFrames()
  if (first === undefined) conn.readable(onChunk, onEnd)
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
    Effect.ensuring(Effect.suspend(() => {
      reading = false
      outbox.stop()
      torrent.unregister(key)
      s.requests.clear()
      picker.removePeer(key)
      torrent.wakeAll()
      return Scope.close(scope, Exit.void)
    }))
  )
})

/** Runs the session until it ends; it always ends with a `PeerError` (which may be a plain shutdown). */
export const runSession = (...args: Parameters<typeof startSession>): Effect.Effect<never, PeerError> =>
  Effect.flatten(startSession(...args))
