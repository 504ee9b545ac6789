/**
 * A scripted LEECHER for hostile-peer tests against our client as a seeder: it dials the
 * client on 127.0.0.1, handshakes (with or without the BEP 6 fast bit), optionally says
 * `interested`, and then sends whatever the test scripts, raw. Everything the client
 * sends back is decoded with our own src/wire codec and logged compactly (message counts,
 * every piece and reject by block, the latest choke state), so a flood of answers does not
 * itself grow the test's memory much.
 *
 * Reading can be paused (`pauseReading`): the kernel buffers then fill and the client's
 * writer blocks, which is how a peer that never reads behaves.
 */
import { Effect, Result } from "effect"
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import {
  Bitfield,
  decodeFrame,
  encodeHandshake,
  encodeMessage,
  makeFramer,
  makeReserved,
  type MessageTag,
  supportsFast
} from "../../src/wire/index.ts"
import type { HashRange } from "../../src/metainfo/index.ts"
import type { BlockRequest } from "./scripted-peer.ts"
import { waitUntil } from "./engine.ts"

export interface HostileLeecherOptions {
  /** The client's listening port on 127.0.0.1. */
  readonly port: number
  readonly infoHash: Uint8Array
  /** Set the BEP 6 fast-extension bit in our handshake. */
  readonly fast: boolean
  /** Send `interested` right after the handshake (default true). */
  readonly interested?: boolean
  /** Keep copies of received block payloads, for byte comparison (default false). */
  readonly keepBlocks?: boolean
  /**
   * Keep every reject for `rejects()` (default true). A flood test turns it off: hundreds of
   * thousands of kept rejects would be the harness's own memory growth, not the client's
   * (`count("Reject")` still counts them).
   */
  readonly keepRejects?: boolean
  /** Set the BEP 52 v2 bit in our handshake (infoHash is then the truncated v2 info-hash). */
  readonly v2?: boolean
}

/** A BEP 52 answer from the client: `hashes` (a copy) or a hash reject, with the range it names. */
export interface HashReply {
  readonly _tag: "Hashes" | "HashReject"
  readonly range: HashRange
  readonly hashes: Uint8Array | undefined
}

export interface ReceivedBlock extends BlockRequest {
  /** The payload, when `keepBlocks` was set. */
  readonly data: Uint8Array | undefined
}

export interface HostileLeecher {
  /** The client's key for us: `127.0.0.1:<our local port>`. */
  readonly key: string
  /** Whether the client's handshake had the fast bit (BEP 6 applies only if both do). */
  readonly clientFast: boolean
  /** Writes raw bytes (frames); completes once Node flushed them or the socket failed. */
  readonly send: (frames: Uint8Array | ReadonlyArray<Uint8Array>) => Effect.Effect<void>
  readonly pauseReading: Effect.Effect<void>
  readonly resumeReading: Effect.Effect<void>
  /** How many messages of each kind the client sent. */
  readonly count: (tag: MessageTag) => number
  readonly pieces: () => ReadonlyArray<ReceivedBlock>
  readonly rejects: () => ReadonlyArray<BlockRequest>
  /** Whether the client is choking us now (true until its first unchoke). */
  readonly choked: () => boolean
  /** Whether the client's opening (bitfield / have all / have none, plus haves) says it has `piece`. */
  readonly clientHas: (piece: number) => boolean
  /** The socket closed, and whether we closed it ourselves. */
  readonly closed: () => boolean
  readonly closedByClient: () => boolean
  /** Payload bytes received (everything after the handshake). */
  readonly bytesReceived: () => number
  /** Every hashes / hash reject the client sent, in order. */
  readonly hashReplies: () => ReadonlyArray<HashReply>
  /** Frames from the client our codec could not decode (should stay empty). */
  readonly decodeErrors: () => ReadonlyArray<string>
  /** Polls `check` every 50 ms; dies naming `what` after `seconds`. */
  readonly waitUntil: (what: string, check: () => boolean, seconds?: number) => Effect.Effect<void>
}

/** A request frame (17 bytes) for the block. */
export const request = (piece: number, begin: number, length: number): Uint8Array =>
  encodeMessage({ _tag: "Request", index: piece, begin, length })

export const cancel = (piece: number, begin: number, length: number): Uint8Array =>
  encodeMessage({ _tag: "Cancel", index: piece, begin, length })

/** Concatenates frames into one buffer (one write, so they arrive as densely as TCP allows). */
export const concat = (frames: ReadonlyArray<Uint8Array>): Uint8Array => {
  let size = 0
  for (const f of frames) size += f.length
  const out = new Uint8Array(size)
  let at = 0
  for (const f of frames) {
    out.set(f, at)
    at += f.length
  }
  return out
}

/** Dials the client and completes the handshake; the socket is destroyed when the scope closes. */
export const hostileLeecher = (options: HostileLeecherOptions) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly socket: Net.Socket; readonly leecher: HostileLeecher; readonly closeOurSide: () => void }>((resume) => {
      const peerId = new Uint8Array(20)
      peerId.set(new TextEncoder().encode("-XH0001-"))
      peerId.set(randomBytes(12), 8)
      const framer = makeFramer()
      const counts = new Map<MessageTag, number>()
      const pieces: Array<ReceivedBlock> = []
      const rejects: Array<BlockRequest> = []
      const decodeErrors: Array<string> = []
      const hashReplies: Array<HashReply> = []
      let have: Bitfield.Bitfield | "all" | "none" = "none"
      const extraHaves = new Set<number>()
      let choked = true
      let closed = false
      let closedByUs = false
      let bytes = 0
      let shook = false
      let done = false

      const socket = Net.createConnection({ host: "127.0.0.1", port: options.port, noDelay: true })
      const fail = (error: Error) => {
        if (done) return
        done = true
        resume(Effect.die(error))
      }
      socket.on("error", (error) => {
        if (!shook) fail(error)
        // After the handshake a reset is an outcome the tests read through `closed`.
      })
      socket.on("close", () => {
        closed = true
        if (!shook) fail(new Error("hostile leecher: the client closed the connection during the handshake"))
      })

      const leecher: HostileLeecher = {
        key: "",
        clientFast: false,
        send: (frames) =>
          Effect.callback<void>((done) => {
            const buffer = frames instanceof Uint8Array ? frames : concat(frames)
            if (socket.destroyed || !socket.writable) return done(Effect.void)
            socket.write(buffer, () => done(Effect.void))
          }),
        pauseReading: Effect.sync(() => void socket.pause()),
        resumeReading: Effect.sync(() => void socket.resume()),
        count: (tag) => counts.get(tag) ?? 0,
        pieces: () => pieces,
        rejects: () => rejects,
        choked: () => choked,
        clientHas: (piece) =>
          extraHaves.has(piece) || have === "all" || (have !== "none" && Bitfield.get(have, piece)),
        closed: () => closed,
        closedByClient: () => closed && !closedByUs,
        bytesReceived: () => bytes,
        hashReplies: () => hashReplies,
        decodeErrors: () => decodeErrors,
        waitUntil: (what, check, seconds = 5) => waitUntil(what, check, seconds)
      }

      socket.once("connect", () => {
        const reserved = makeReserved({ extensionProtocol: false, fast: options.fast, v2: options.v2 === true })
        socket.write(encodeHandshake({ infoHash: options.infoHash, peerId, reserved }))
      })
      socket.on("data", (chunk: Buffer) => {
        // Copy: the framer keeps views, and Node may reuse pooled buffers.
        framer.push(new Uint8Array(chunk))
        if (!shook) {
          const hs = framer.takeHandshake()
          if (Result.isFailure(hs)) return fail(new Error(`hostile leecher: bad handshake: ${hs.failure.message}`))
          if (hs.success === undefined) return
          shook = true
          if (options.interested !== false) socket.write(encodeMessage({ _tag: "Interested" }))
          done = true
          resume(Effect.succeed({
            socket,
            leecher: { ...leecher, key: `127.0.0.1:${socket.localPort ?? 0}`, clientFast: supportsFast(hs.success.reserved) },
            closeOurSide: () => {
              closedByUs = !closed
            }
          }))
        }
        bytes += chunk.length
        while (true) {
          const next = framer.next()
          if (Result.isFailure(next)) {
            decodeErrors.push(next.failure.message)
            return
          }
          if (next.success === undefined) return
          const message = decodeFrame(next.success)
          if (Result.isFailure(message)) {
            decodeErrors.push(message.failure.message)
            continue
          }
          const m = message.success
          counts.set(m._tag, (counts.get(m._tag) ?? 0) + 1)
          switch (m._tag) {
            case "Choke":
              choked = true
              break
            case "Unchoke":
              choked = false
              break
            case "Bitfield":
              have = { pieceCount: m.bits.length * 8, bytes: new Uint8Array(m.bits) }
              break
            case "HaveAll":
              have = "all"
              break
            case "HaveNone":
              have = "none"
              break
            case "Have":
              extraHaves.add(m.index)
              break
            case "Piece":
              pieces.push({
                piece: m.index,
                begin: m.begin,
                length: m.block.length,
                data: options.keepBlocks === true ? new Uint8Array(m.block) : undefined
              })
              break
            case "Hashes":
            case "HashReject": {
              const range = { piecesRoot: m.piecesRoot.slice(), baseLayer: m.baseLayer, index: m.index, length: m.length, proofLayers: m.proofLayers }
              hashReplies.push({ _tag: m._tag, range, hashes: m._tag === "Hashes" ? m.hashes.slice() : undefined })
              break
            }
            case "Reject":
              if (options.keepRejects !== false) rejects.push({ piece: m.index, begin: m.begin, length: m.length })
              break
            default:
              break
          }
        }
      })
      return Effect.sync(() => socket.destroy())
    }),
    ({ socket, closeOurSide }) =>
      Effect.sync(() => {
        closeOurSide()
        socket.destroy()
      })
  ).pipe(Effect.map(({ leecher }) => leecher))

/**
 * `count` requests for distinct 16 KiB blocks of the first `fullPieces` pieces (each of
 * `pieceLength` bytes), as one buffer: any `begin` with `begin + 16 KiB` inside the piece
 * is a valid request, so even a small torrent yields many distinct ones.
 */
export const distinctRequests = (pieceLength: number, fullPieces: number, count: number, from = 0): Uint8Array => {
  const BLOCK = 16 * 1024
  const begins = pieceLength - BLOCK + 1
  if (fullPieces * begins < from + count) throw new RangeError(`only ${fullPieces * begins} distinct requests exist`)
  const frames: Array<Uint8Array> = []
  for (let i = from; i < from + count; i++) frames.push(request(i % fullPieces, Math.floor(i / fullPieces), BLOCK))
  return concat(frames)
}
