/**
 * A scripted BitTorrent peer for failure tests: a node:net server on 127.0.0.1 that
 * accepts the client's connection, does the BEP 3 handshake for one info-hash,
 * advertises a bitfield, unchokes, and answers requests from the payload it was given,
 * unless told to misbehave (corrupt pieces, close mid-piece, stay silent, send raw bytes).
 *
 * It speaks through our own src/wire codec (framer, decodeFrame, encodeMessage), so a bug
 * there shows up as a handshake or framing failure here, never as a silent pass.
 *
 * It speaks plaintext BitTorrent only, as some clients do (rqbit): a connection that opens
 * with MSE/PE instead is closed at once, the way such a client drops an opening it cannot
 * parse. Those are counted apart (`refusedEncrypted`), not as connections: the client's
 * default is to try MSE first and then retry in plaintext within the same dial.
 *
 * Everything it sees is logged (connections, requests, blocks sent) so tests can assert
 * on what the client actually asked for. The server and every socket close with the scope.
 */
import { Effect, Result } from "effect"
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import { performance } from "node:perf_hooks"
import { classifyOpening } from "../../src/mse/index.ts"
import { Bitfield, decodeFrame, encodeHandshake, encodeMessage, makeFramer, type Message } from "../../src/wire/index.ts"

export interface BlockRequest {
  readonly piece: number
  readonly begin: number
  readonly length: number
}

export interface LoggedRequest extends BlockRequest {
  /** 1-based number of the connection it arrived on. */
  readonly connection: number
  /** Milliseconds since the peer started (performance.now based). */
  readonly at: number
}

export interface ScriptedPeerOptions {
  readonly infoHash: Uint8Array
  /** The whole torrent payload (files concatenated in metainfo order). */
  readonly data: Uint8Array
  readonly pieceLength: number
  /** Pieces we claim to have; default all. */
  readonly have?: ReadonlyArray<number>
  /** Raw bitfield payload sent instead of the one built from `have` (to send a malformed one). */
  readonly bitfield?: Uint8Array
  /** Do not unchoke the client (default: unchoke right after the bitfield). */
  readonly choke?: boolean
  /** Raw bytes written right after the opening (bitfield + unchoke), e.g. malformed frames. */
  readonly afterOpening?: ReadonlyArray<Uint8Array>
  /** Blocks of these pieces are sent with flipped bytes. */
  readonly corruptPieces?: ReadonlyArray<number>
  /** Per connection: send this many blocks, then close the connection (FIN). */
  readonly closeAfterBlocks?: number
  /** Whether to answer a request; default always. A request not answered is still logged. */
  readonly answer?: (request: BlockRequest) => boolean
  /**
   * Replaces the normal answer to a request with these raw bytes (e.g. a piece message of
   * the wrong length). Return undefined to answer normally.
   */
  readonly respond?: (request: BlockRequest, block: Uint8Array) => ReadonlyArray<Uint8Array> | undefined
}

export interface ScriptedPeer {
  readonly address: { readonly host: string; readonly port: number }
  /** The client's key for this peer when it dials us: `127.0.0.1:<port>`. */
  readonly key: string
  readonly pieceCount: number
  /** Connections that opened with a plaintext handshake (or tried to) so far. */
  readonly connections: () => number
  /** Connections that opened with MSE/PE, closed at once. */
  readonly refusedEncrypted: () => number
  /** Connections that completed the handshake. */
  readonly handshakes: () => number
  /** Every request received, in order. */
  readonly requests: () => ReadonlyArray<LoggedRequest>
  /** Every block sent (after any corruption), in order. */
  readonly blocksSent: () => ReadonlyArray<BlockRequest>
  /** Message tags received from the client, in order. */
  readonly received: () => ReadonlyArray<Message["_tag"]>
  /** Connections the client closed or reset (not those we closed). */
  readonly closedByClient: () => number
  /** Frames from the client our codec could not decode (should stay empty). */
  readonly decodeErrors: () => ReadonlyArray<string>
}

const blockKey = (b: BlockRequest) => `${b.piece}:${b.begin}:${b.length}`

/** True when `list` holds a request for the same block. */
export const hasBlock = (list: ReadonlyArray<BlockRequest>, block: BlockRequest): boolean =>
  list.some((b) => blockKey(b) === blockKey(block))

const pieceSize = (options: ScriptedPeerOptions, piece: number) =>
  Math.min(options.pieceLength, options.data.length - piece * options.pieceLength)

/** Starts a scripted peer in the current scope; it stops (and drops its sockets) when the scope closes. */
export const scriptedPeer = (options: ScriptedPeerOptions) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: Net.Server; readonly sockets: Set<Net.Socket>; readonly peer: ScriptedPeer }>((resume) => {
      const pieceCount = Math.ceil(options.data.length / options.pieceLength)
      const corrupt = new Set(options.corruptPieces ?? [])
      const peerId = new Uint8Array(20)
      peerId.set(new TextEncoder().encode("-SP0001-"))
      peerId.set(randomBytes(12), 8)
      const started = performance.now()
      const requests: Array<LoggedRequest> = []
      const blocksSent: Array<BlockRequest> = []
      const received: Array<Message["_tag"]> = []
      const decodeErrors: Array<string> = []
      const sockets = new Set<Net.Socket>()
      let connections = 0
      let refusedEncrypted = 0
      let handshakes = 0
      let closedByClient = 0

      const bitfield = (): Uint8Array => {
        if (options.bitfield !== undefined) return options.bitfield
        const bf = Bitfield.make(pieceCount)
        for (const p of options.have ?? Array.from({ length: pieceCount }, (_, i) => i)) Bitfield.set(bf, p)
        return bf.bytes
      }

      const handle = (socket: Net.Socket): void => {
        let connection = 0
        let opening: Uint8Array = new Uint8Array(0)
        sockets.add(socket)
        const framer = makeFramer()
        let shook = false
        let closing = false
        let sentOnThisConnection = 0
        const write = (bytes: Uint8Array) => {
          if (!closing && !socket.destroyed) socket.write(bytes)
        }
        const closeOurSide = () => {
          closing = true
          socket.end()
        }
        socket.on("close", () => {
          sockets.delete(socket)
          if (!closing) closedByClient++
        })
        socket.on("error", () => {
          // A reset by the client is an outcome the tests read through `closedByClient`.
        })

        const onRequest = (request: BlockRequest) => {
          requests.push({ ...request, connection, at: performance.now() - started })
          if (closing) return
          if (options.answer !== undefined && !options.answer(request)) return
          const start = request.piece * options.pieceLength + request.begin
          if (request.piece >= pieceCount || request.begin + request.length > pieceSize(options, request.piece)) return
          let block = options.data.subarray(start, start + request.length)
          const custom = options.respond?.(request, block)
          if (custom !== undefined) {
            for (const bytes of custom) write(bytes)
            return
          }
          if (corrupt.has(request.piece)) block = block.map((b) => b ^ 0xff)
          write(encodeMessage({ _tag: "Piece", index: request.piece, begin: request.begin, block }))
          blocksSent.push(request)
          sentOnThisConnection++
          if (options.closeAfterBlocks !== undefined && sentOnThisConnection >= options.closeAfterBlocks) closeOurSide()
        }

        socket.on("data", (chunk: Buffer) => {
          // After we close our side, requests still arriving are logged (the client did ask) but not answered.
          let bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)
          if (connection === 0) {
            // the first 20 bytes tell a handshake from an MSE opening, which is refused
            bytes = opening.length === 0 ? bytes : Buffer.concat([opening, bytes])
            const kind = classifyOpening(bytes)
            if (kind === "undecided") {
              opening = bytes
              return
            }
            if (kind === "mse") {
              refusedEncrypted++
              closeOurSide()
              return
            }
            connection = ++connections
          }
          framer.push(bytes)
          if (!shook) {
            const hs = framer.takeHandshake()
            if (Result.isFailure(hs)) {
              decodeErrors.push(hs.failure.message)
              closeOurSide()
              return
            }
            if (hs.success === undefined) return
            if (Buffer.compare(hs.success.infoHash, options.infoHash) !== 0) {
              closeOurSide()
              return
            }
            shook = true
            handshakes++
            write(encodeHandshake({ infoHash: options.infoHash, peerId }))
            write(encodeMessage({ _tag: "Bitfield", bits: bitfield() }))
            if (options.choke !== true) write(encodeMessage({ _tag: "Unchoke" }))
            for (const bytes of options.afterOpening ?? []) write(bytes)
          }
          while (true) {
            const next = framer.next()
            if (Result.isFailure(next)) {
              decodeErrors.push(next.failure.message)
              if (!closing) closeOurSide()
              return
            }
            if (next.success === undefined) return
            const message = decodeFrame(next.success)
            if (Result.isFailure(message)) {
              decodeErrors.push(message.failure.message)
              continue
            }
            received.push(message.success._tag)
            if (message.success._tag === "Request") {
              const { index, begin, length } = message.success
              onRequest({ piece: index, begin, length })
            }
          }
        })
      }

      const server = Net.createServer(handle)
      server.on("error", (error) => resume(Effect.die(error)))
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        if (address === null || typeof address === "string") {
          resume(Effect.die(new Error("scripted peer: no TCP address")))
          return
        }
        const peer: ScriptedPeer = {
          address: { host: "127.0.0.1", port: address.port },
          key: `127.0.0.1:${address.port}`,
          pieceCount,
          connections: () => connections,
          refusedEncrypted: () => refusedEncrypted,
          handshakes: () => handshakes,
          requests: () => requests,
          blocksSent: () => blocksSent,
          received: () => received,
          closedByClient: () => closedByClient,
          decodeErrors: () => decodeErrors
        }
        resume(Effect.succeed({ server, sockets, peer }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        // server.close waits for open connections: drop them.
        for (const s of sockets) s.destroy()
      })
  ).pipe(Effect.map(({ peer }) => peer))
