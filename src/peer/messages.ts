/**
 * What a session does with each message the peer sends. The rules follow BEP 3 and
 * BEP 6; every violation that BEP 3 says should drop the connection ends the session with
 * a typed `Protocol` error, while merely odd traffic (a late block, a request we cannot
 * serve) is dropped and counted.
 */
import { Effect, Result } from "effect"
import { PieceIndex } from "../ids.ts"
import type { HashRange } from "../metainfo/index.ts"
import { Bitfield, type Message } from "../wire/index.ts"
import { handleExtended } from "./extensions.ts"
import { PeerError } from "./errors.ts"
import { makeHashBudget } from "./hash-budget.ts"
import { unlimited } from "../ratelimit/index.ts"
import type { SessionContext } from "./context.ts"
import { blockKey } from "./session-state.ts"
import { afterPut, storeBlock } from "./store.ts"

const MAX_BLOCK = 16 * 1024

const violation = (ctx: SessionContext, detail: string) =>
  new PeerError({ reason: "Protocol", peer: ctx.s.key, detail })

const pieceLength = (ctx: SessionContext, piece: number): number => {
  const meta = ctx.torrent
  const start = piece * meta.pieceLength
  return Math.min(meta.pieceLength, meta.totalSize - start)
}

const checkIndex = (ctx: SessionContext, index: number, what: string): Effect.Effect<void, PeerError> =>
  index < ctx.torrent.pieceCount
    ? Effect.void
    : Effect.fail(violation(ctx, `${what} for piece ${index}, but the torrent has ${ctx.torrent.pieceCount}`))

/** A request we will not serve: reject it under BEP 6, and count it toward flood detection. */
const refuse = (ctx: SessionContext, m: { index: number; begin: number; length: number }): Effect.Effect<void, PeerError> => {
  ctx.s.violations++
  if (ctx.s.violations > ctx.options.maxViolations) {
    return Effect.fail(violation(ctx, `${ctx.s.violations} requests we could not serve (request flood)`))
  }
  return ctx.s.fast ? ctx.reply({ _tag: "Reject", index: m.index, begin: m.begin, length: m.length }) : Effect.void
}

const onRequest = (ctx: SessionContext, m: { index: number; begin: number; length: number }): Effect.Effect<void, PeerError> => {
  const { s, torrent } = ctx
  if (m.index >= torrent.pieceCount) return checkIndex(ctx, m.index, "request")
  if (m.length === 0 || m.length > MAX_BLOCK || m.begin + m.length > pieceLength(ctx, m.index)) {
    return Effect.fail(violation(ctx, `request of ${m.length} bytes at ${m.begin} of piece ${m.index} is out of range`))
  }
  const piece = PieceIndex(m.index) // in range, checked above
  if (s.stats.amChoking || !torrent.storage.hasPiece(piece) || s.uploads.size >= ctx.options.maxUploadQueue) {
    return refuse(ctx, m)
  }
  // Accepted requests (the common case) are queued synchronously: no effect allocated.
  const key = blockKey(m.index, m.begin)
  if (!s.uploads.has(key)) {
    s.uploads.set(key, { piece, begin: m.begin, length: m.length })
    ctx.signalUploads()
  }
  return Effect.void
}

/**
 * BEP 52: a piece-layer hash request is answered whatever our choke state, from the piece
 * layers we hold, or rejected. A leaf request below the piece layer makes us read back and
 * hash up to 512 blocks (8 MiB), so only a peer we unchoke gets one answered, as it could make us read its blocks
 * anyway (BEP 52 forbids rejecting leaves only after serving a block in their range, which
 * an unchoked peer alone gets). Each peer's requests, and the blocks its leaf answers read,
 * are bounded per interval (hash-budget.ts). A peer whose requests we keep rejecting is
 * counted like one flooding us with requests we cannot serve.
 */
const onHashRequest = (ctx: SessionContext, m: HashRange): Effect.Effect<void, PeerError> => {
  // The root is a view of the frame: the reply may go out after the frame's memory is reused.
  const range = { piecesRoot: m.piecesRoot.slice(), baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers }
  const budget = ctx.s.hashBudget === undefined
    ? Effect.tap(makeHashBudget, (b) => Effect.sync(() => void (ctx.s.hashBudget = b)))
    : Effect.succeed(ctx.s.hashBudget)
  const answer = Effect.flatMap(budget, (b) => ctx.torrent.answerHashes(range, { mayRead: !ctx.s.stats.amChoking, budget: b }))
  return Effect.flatMap(answer, (hashes) => {
    if (typeof hashes !== "string") return ctx.reply({ _tag: "Hashes", ...range, hashes })
    ctx.s.violations++
    if (ctx.s.violations > ctx.options.maxViolations) {
      return Effect.fail(violation(ctx, `${ctx.s.violations} requests we could not serve (last: a hash request, ${hashes})`))
    }
    return ctx.reply({ _tag: "HashReject", ...range })
  })
}

/**
 * A block arrived. The common case — a block storage takes synchronously (one that does not
 * complete its piece, or any block with an in-memory backend), with no rate limit — is
 * handled without allocating an effect: this runs for every 16 KiB.
 */
const onPiece = (ctx: SessionContext, index: PieceIndex, begin: number, block: Uint8Array): Effect.Effect<void, PeerError> => {
  const { s, torrent } = ctx
  const { picker, storage } = torrent
  const t = ctx.now()
  const ours = s.requests.delete(blockKey(index, begin))
  s.stats.inflight = s.requests.size
  s.downloadMeter.add(block.length, t)
  s.stats.downloaded += block.length
  torrent.onDownloaded(block.length)
  s.lastBlockAt = t
  s.stats.snubbed = false
  const received = picker.blockReceived(s.key, index, begin, block.length)
  if (received._tag === "Invalid") {
    return Effect.fail(violation(ctx, `piece message for ${block.length} bytes at ${begin} of piece ${index} is not a block of this torrent`))
  }
  if (received._tag !== "Accepted") {
    // A late or duplicate block (endgame, or after a timeout): harmless unless we never asked at all.
    if (!ours) s.violations++
    ctx.fill()
    return throttled(ctx, block.length, Effect.void)
  }
  for (const other of received.cancels) torrent.linkOf(other)?.cancelRequest({ piece: index, begin, length: block.length })
  // The picker counts the block received from here on, so what follows must run even if the
  // session ends first (a pause interrupts it while the effect waits for its turn): else
  // nobody requests the block again and its piece never completes (`ctx.mustRun`).
  const put = storage.putBlockSync(index, begin, block)
  if (put !== undefined) {
    const after = afterPut(torrent, index, put)
    ctx.fill()
    return throttled(ctx, block.length, after === Effect.void ? after : ctx.mustRun(after))
  }
  const store = storeBlock(torrent, index, begin, ctx.keep(block))
  // A block that completes its piece starts the hash check and the disk write; the reader
  // goes on reading meanwhile, unless the pieces already waiting for the disk are too many.
  // Other blocks are only copied into the piece's buffer.
  const background = received.pieceComplete && !storage.writeBacklogged()
  return throttled(
    ctx,
    block.length,
    ctx.mustRun(background ? torrent.background(store) : store).pipe(Effect.andThen(Effect.sync(() => ctx.fill())))
  )
}

/** Runs `effect`, then waits for the download rate limit (slowing the reader slows the peer through TCP). */
const throttled = (ctx: SessionContext, bytes: number, effect: Effect.Effect<void>): Effect.Effect<void> => {
  const limit = ctx.torrent.downloadThrottle
  if (limit === unlimited) return effect
  if (effect === Effect.void && limit.free()) return Effect.void
  return Effect.andThen(effect, limit.take(bytes))
}

/** The peer announced a piece (have, or a later bitfield): count it once. */
const peerGained = (ctx: SessionContext, piece: number): void => {
  const { s, torrent } = ctx
  if (!Bitfield.set(s.peerPieces, piece)) return
  s.stats.haveCount++
  s.stats.isSeed = s.stats.haveCount >= torrent.pieceCount
  if (torrent.picker.peerHas(s.key, PieceIndex(piece))) ctx.updateInterest()
}

/**
 * Applies one message from the peer. Runs its synchronous part at once and returns what is
 * left to run; most messages leave nothing but `Effect.void`, which the reader skips (this is
 * called for every message, so it allocates no effect on the common paths).
 */
export const handleMessage = (ctx: SessionContext, m: Message): Effect.Effect<void, PeerError> => {
  const { s, torrent } = ctx
  const { picker } = torrent
  switch (m._tag) {
    case "KeepAlive":
      return Effect.void
    case "Choke":
      s.stats.peerChoking = true
      if (!s.fast) {
        // Without BEP 6 a choke voids every pending request.
        s.requests.clear()
        picker.peerChoked(s.key)
        s.stats.inflight = 0
        torrent.wakeAll()
      }
      return Effect.void
    case "Unchoke":
      s.stats.peerChoking = false
      ctx.fill()
      return Effect.void
    case "Interested":
      s.stats.peerInterested = true
      // A free upload slot need not wait for the next rechoke.
      if (s.stats.amChoking && torrent.initialUnchoke(s.key)) ctx.unchoke()
      return Effect.void
    case "NotInterested":
      s.stats.peerInterested = false
      return Effect.void
    case "Have":
      // The commonest message: handled synchronously, no effect allocated on the good path.
      if (m.index >= torrent.pieceCount) return checkIndex(ctx, m.index, "have")
      peerGained(ctx, m.index)
      ctx.fill()
      return Effect.void
    case "Bitfield": {
      const bits = Bitfield.fromWire(m.bits, torrent.pieceCount)
      if (Result.isFailure(bits)) return Effect.fail(violation(ctx, bits.failure.message))
      if (s.receivedBitfield) {
        // aria2 announces finished pieces with whole bitfields instead of `have`: take a
        // later bitfield as an update (a peer never loses pieces, so only new bits count).
        for (const piece of Bitfield.setIndices(bits.success)) peerGained(ctx, piece)
        ctx.fill()
        return Effect.void
      }
      s.receivedBitfield = true
      s.peerPieces = bits.success
      const count = Bitfield.count(bits.success)
      s.stats.haveCount = count
      s.stats.isSeed = count === torrent.pieceCount
      if (s.stats.isSeed) picker.peerHasAll(s.key)
      else picker.addPeer(s.key, bits.success.bytes)
      ctx.updateInterest()
      return Effect.void
    }
    case "HaveAll":
      s.receivedBitfield = true
      s.peerPieces = Bitfield.full(torrent.pieceCount)
      s.stats.haveCount = torrent.pieceCount
      s.stats.isSeed = true
      picker.peerHasAll(s.key)
      ctx.updateInterest()
      return Effect.void
    case "HaveNone":
      s.receivedBitfield = true
      return Effect.void
    case "Request":
      return onRequest(ctx, m)
    case "Piece":
      if (m.index >= torrent.pieceCount) return checkIndex(ctx, m.index, "piece")
      return onPiece(ctx, PieceIndex(m.index), m.begin, m.block)
    case "Cancel": {
      const queued = s.uploads.get(blockKey(m.index, m.begin))
      if (queued === undefined || queued.length !== m.length) return Effect.void
      s.uploads.delete(blockKey(m.index, m.begin))
      // BEP 6: a cancelled request is answered with a reject (or the piece).
      return s.fast ? ctx.reply({ _tag: "Reject", index: m.index, begin: m.begin, length: m.length }) : Effect.void
    }
    case "Reject": {
      const key = blockKey(m.index, m.begin)
      const req = s.requests.get(key)
      if (req !== undefined) {
        s.requests.delete(key)
        picker.rejected(s.key, req.block)
        s.stats.inflight = s.requests.size
        torrent.wakeAll()
      }
      return Effect.void
    }
    case "Extended":
      return handleExtended(ctx, m.id, m.payload)
    case "HashRequest":
      return onHashRequest(ctx, m)
    case "Port":
    case "Suggest":
    case "AllowedFast":
    // Sessions never ask for hashes (magnet/piece-layers.ts does, before the torrent opens).
    case "Hashes":
    case "HashReject":
      return Effect.void
  }
}
