/**
 * A live peer session (session.ts starts it): what the torrent can do to it (`PeerLink`),
 * what its message handlers get (`SessionContext`), and its reader, which handles frames as
 * chunks arrive, inside `Connection.readable`'s callback.
 */
import { Effect, Result } from "effect"
import type { PeerKey } from "../ids.ts"
import { type Connection, ipBytes, type NetError } from "../net/index.ts"
import { Bitfield, extendedHandshakeMessage, type Framer, type Message } from "../wire/index.ts"
import type { WireTrace } from "../trace/recorder.ts"
import type { SessionContext } from "./context.ts"
import { PeerError } from "./errors.ts"
import { ourExtensions } from "./extensions.ts"
import type { BlockRef, PeerLink, PeerStats, TorrentLink } from "./link.ts"
import { handleMessage } from "./messages.ts"
import type { SessionOptions } from "./options.ts"
import type { Outbox } from "./outbox.ts"
import { DEFAULT_PIPELINE, pipelineDepth } from "./pipeline.ts"
import type { SessionState } from "./session-state.ts"

/** Blocks requested at once from a peer with a deep pipeline (a quarter of a 1 MiB piece). */
const REQUEST_BATCH = 16

/** What a session is made of, made before it (session.ts `startSession`). */
export interface SessionParts {
  readonly s: SessionState
  readonly torrent: TorrentLink
  readonly options: SessionOptions
  readonly conn: Connection
  readonly framer: Framer
  readonly outbox: Outbox
  readonly now: () => number
  readonly fork: (effect: Effect.Effect<void, PeerError>) => unknown
  readonly toPeerError: (e: NetError) => PeerError
  readonly wire: WireTrace | null
  readonly extended: boolean
}

/**
 * One session: what the torrent can do to it (`PeerLink`), what its message handlers get
 * (`SessionContext`), and its reader. A class, not closures: a session made some thirty
 * functions and their context, about 1.5 KiB of every idle peer (issue 15); `onChunk` and
 * `onEnd` are the two it hands out (to `Connection.readable`). Call its methods on it,
 * never detached.
 */
export class PeerSession implements PeerLink, SessionContext {
  readonly stats: PeerStats
  readonly s: SessionState
  readonly torrent: TorrentLink
  readonly options: SessionOptions
  readonly now: () => number
  private readonly key: PeerKey
  private readonly conn: Connection
  private readonly framer: Framer
  private readonly outbox: Outbox
  private readonly fork: (effect: Effect.Effect<void, PeerError>) => unknown
  private readonly toPeerError: (e: NetError) => PeerError
  private readonly wire: WireTrace | null
  private readonly extended: boolean
  private limits = DEFAULT_PIPELINE
  private resumeMemo: Effect.Effect<void, PeerError> | undefined = undefined
  /** What a message returned that must run in a fiber before the reader goes on. */
  private pending: Effect.Effect<void, PeerError> | undefined = undefined
  /** False once the session ended (possibly inside handleMessage: a ban). */
  reading = true
  /** The connection lends its read buffer: a frame's bytes are valid until the next read (`keep`). */
  private lent = false
  /**
   * The effect `mustRun` wrapped that has not started yet (at most one: the reader waits for
   * it before reading on). If the session ends first, `finish` hands it to the torrent.
   */
  private unstarted: Effect.Effect<void> | undefined = undefined

  constructor(parts: SessionParts) {
    this.s = parts.s
    this.stats = parts.s.stats
    this.key = parts.s.key
    this.torrent = parts.torrent
    this.options = parts.options
    this.now = parts.now
    this.conn = parts.conn
    this.framer = parts.framer
    this.outbox = parts.outbox
    this.fork = parts.fork
    this.toPeerError = parts.toPeerError
    this.wire = parts.wire
    this.extended = parts.extended
  }

  extendedHandshake(): Message {
    const { torrent, options } = this
    // made here, not kept: a 4-byte array costs a peer 0.2 KiB (ArrayBuffer and backing store)
    const yourIp = ipBytes(this.conn.remote.host)
    return extendedHandshakeMessage({
      m: ourExtensions(torrent.isPrivate),
      metadata_size: torrent.metadata.length,
      v: options.clientVersion,
      reqq: options.maxUploadQueue,
      ...(options.listenPort === null ? {} : { p: options.listenPort }),
      // BEP 10 `yourip`: the address we see the peer at, which helps it learn its external IP.
      ...(yourIp === undefined ? {} : { yourip: yourIp }),
      ...(torrent.isComplete() ? { upload_only: true } : {})
    })
  }

  send(message: Message): void {
    if (!this.outbox.send(message)) this.end("Timeout", "peer stopped reading (send queue full)")
  }

  reply(message: Message): Effect.Effect<void> {
    return this.outbox.reply(message)
  }

  signalUploads(): void {
    this.outbox.uploadsAdded()
  }

  end(reason: PeerError["reason"], detail: string): void {
    this.fork(Effect.fail(new PeerError({ reason, peer: this.key, detail })))
  }

  keep(bytes: Uint8Array): Uint8Array {
    return this.lent ? bytes.slice() : bytes
  }

  mustRun(effect: Effect.Effect<void>): Effect.Effect<void> {
    this.unstarted = effect
    return Effect.suspend(() => {
      // `finish` took it: it runs (or ran) in the torrent's background work
      if (this.unstarted !== effect) return Effect.void
      this.unstarted = undefined
      // begun, it finishes: interrupted halfway, a store could leave the block half-kept
      return Effect.uninterruptible(effect)
    })
  }

  updateInterest(): void {
    const want = this.torrent.picker.isInteresting(this.key)
    if (want !== this.stats.amInterested) {
      this.stats.amInterested = want
      this.send({ _tag: want ? "Interested" : "NotInterested" })
    }
  }

  /**
   * Top up the request pipeline to the bandwidth-delay product of this peer. A deep pipeline
   * is topped up in batches (`REQUEST_BATCH` blocks, or a quarter of it): this runs for every
   * block received, and one pick and one write per batch cost far less than one per block.
   */
  fill(): void {
    const { s, torrent } = this
    if (s.stats.peerChoking || !s.stats.amInterested) return
    if (this.limits.max !== s.maxPipeline) this.limits = { ...DEFAULT_PIPELINE, max: s.maxPipeline }
    const depth = s.stats.snubbed ? 1 : pipelineDepth(s.downloadMeter.rate(this.now()), this.limits)
    s.stats.pipelineDepth = depth
    const room = depth - s.requests.size
    if (room <= 0) return
    if (s.requests.size > 0 && room < Math.min(REQUEST_BATCH, depth >> 2)) return
    const sentAt = this.now()
    for (const block of torrent.picker.pick(this.key, room, torrent.random)) {
      s.requests.set(`${block.piece}:${block.begin}`, { block, sentAt })
      this.send({ _tag: "Request", index: block.piece, begin: block.begin, length: block.length })
    }
    s.stats.inflight = s.requests.size
  }

  unchoke(): void {
    this.setChoked(false)
  }

  cancelRequest(block: BlockRef): void {
    if (this.s.requests.delete(`${block.piece}:${block.begin}`)) {
      this.send({ _tag: "Cancel", index: block.piece, begin: block.begin, length: block.length })
    }
  }

  pieceVerified(piece: number): void {
    // Have suppression: a peer that has the piece gains nothing from hearing we do too.
    if (!Bitfield.get(this.s.peerPieces, piece)) {
      const have: Message = { _tag: "Have", index: piece }
      // Urgent or not (the split of the multi-have BEP draft, bittorrent.org PR 28): a peer we
      // choke that is interested in us cannot request the piece before we unchoke it, and our
      // `unchoke` follows the queued haves, so its have rides with our next write to the peer
      // or goes at the next tick. A peer we serve may request it now, and one not interested
      // may become so through it: theirs go now.
      if (!this.stats.amChoking || !this.stats.peerInterested) this.send(have)
      else if (!this.outbox.sendLazily(have)) this.end("Timeout", "peer stopped reading (send queue full)")
    }
    this.updateInterest()
  }

  setChoked(choked: boolean): void {
    const { s } = this
    if (choked === s.stats.amChoking) return
    s.stats.amChoking = choked
    this.send({ _tag: choked ? "Choke" : "Unchoke" })
    if (choked) {
      // BEP 6: with the fast extension every dropped request is rejected explicitly.
      for (const [k, block] of s.uploads) {
        s.uploads.delete(k)
        if (s.fast) this.send({ _tag: "Reject", index: block.piece, begin: block.begin, length: block.length })
      }
    }
  }

  // Interest first: the wanted set may have changed (files selected, a piece failed).
  wake(): void {
    this.updateInterest()
    this.fill()
  }

  tick(): void {
    const { s, options } = this
    const t = this.now()
    s.stats.downloadRate = s.downloadMeter.rate(t)
    s.stats.uploadRate = s.uploadMeter.rate(t)
    let expired = false
    for (const [k, req] of s.requests) {
      if (t - req.sentAt < options.requestTimeoutMillis) continue
      s.requests.delete(k)
      this.torrent.picker.requestTimedOut(this.key, req.block)
      expired = true
    }
    s.stats.snubbed = s.requests.size > 0 && t - s.lastBlockAt > options.snubTimeoutMillis
    s.stats.inflight = s.requests.size
    if (expired) this.torrent.wakeAll()
    if (t - s.lastReceivedAt > options.idleTimeoutMillis) return this.end("Timeout", "peer went silent")
    this.outbox.flushLazy()
    if (t - s.lastSentAt > options.keepAliveMillis) this.send({ _tag: "KeepAlive" })
    this.fill()
  }

  // BEP 10 lets either side send its handshake again to update what it said.
  uploadOnly(): void {
    if (this.extended) this.send(this.extendedHandshake())
  }

  sendExtended(name: string, payload: Uint8Array): boolean {
    const id = this.s.extensions[name]
    if (id === undefined || id === 0) return false
    this.send({ _tag: "Extended", id, payload })
    return true
  }

  disconnect(reason: "Banned" | "Shutdown", detail: string): void {
    this.end(reason, detail)
  }

  // The reader: frames are handled as chunks arrive, inside `Connection.readable`'s
  // callback, with no fiber hand-off per chunk (handleMessage is synchronous on its common
  // paths). What only a fiber can do (a message's returned effect: a disk write, a wait for
  // room, the rate limit) stops the flow and forks a fiber, which runs it, handles what is
  // buffered and re-arms the callback. The session state is touched by one of the two at a time.

  /**
   * Handles the buffered frames: undefined when all were handled (read on), else what must
   * run in a fiber (the pending effect, then more frames; or the session's end).
   */
  handleFrames(): Effect.Effect<void, PeerError> | undefined {
    try {
      // `reading` turns false when the session ends, possibly inside handleMessage (a ban)
      while (this.reading) {
        const next = this.framer.nextMessage()
        if (Result.isFailure(next)) {
          // An unknown message id is a future extension, not a violation: skip the frame.
          if (next.failure.recoverable) continue
          return Effect.fail(new PeerError({ reason: "Protocol", peer: this.key, detail: next.failure.message }))
        }
        if (next.success === undefined) return undefined
        this.s.lastReceivedAt = this.now()
        if (this.wire !== null) this.wire.message("in", next.success)
        const rest = handleMessage(this, next.success)
        if (rest !== Effect.void) {
          this.pending = rest
          return this.resume()
        }
      }
      return Effect.void
    } catch (cause) {
      // a bug must not escape into the network layer: it ends this session as a defect
      return Effect.die(cause)
    }
  }

  /** Runs the pending effect, then handles frames until they need no fiber, then reads on (made once, when first needed). */
  private resume(): Effect.Effect<void, PeerError> {
    return (this.resumeMemo ??= Effect.suspend(() => {
      const rest = this.pending ?? Effect.void
      this.pending = undefined
      return Effect.andThen(rest, Effect.suspend(() => this.readOn(this.handleFrames())))
    }))
  }

  private readOn(stall: Effect.Effect<void, PeerError> | undefined): Effect.Effect<void, PeerError> {
    if (stall !== undefined) return stall
    this.conn.readable(this.onChunk, this.onEnd, true)
    return Effect.void
  }

  readonly onChunk = (chunk: Uint8Array, lent?: boolean): boolean => {
    if (!this.reading) return false
    // a lent chunk is the connection's read buffer (Connection.readable `borrows`)
    if (lent === true) {
      this.lent = true
      this.framer.pushLent(chunk)
    } else {
      this.framer.push(chunk)
    }
    const stall = this.handleFrames()
    if (lent === true) this.framer.keepRest()
    if (stall === undefined) return true
    // after a yield: the fiber must not re-arm `readable` from inside its own callback
    this.fork(Effect.andThen(Effect.yieldNow, stall))
    return false
  }

  readonly onEnd = (error: NetError): void => {
    this.fork(Effect.fail(this.toPeerError(error)))
  }

  /**
   * The session ended: nothing more is read or written, and the torrent forgets the peer.
   * Returns what must still run: a received block's store (or its piece's verdict) that had
   * not started, which the session's fibers, interrupted next, would lose. The picker counts
   * that block received, so it would never be requested again (a pause lost one such block
   * in ~8 runs of test/pause-peers, and its piece never completed).
   */
  finish(): Effect.Effect<void> {
    this.reading = false
    this.outbox.stop()
    this.torrent.unregister(this.key)
    this.s.requests.clear()
    this.torrent.picker.removePeer(this.key)
    this.torrent.wakeAll()
    const left = this.unstarted
    this.unstarted = undefined
    return left === undefined ? Effect.void : this.torrent.background(left)
  }
}
