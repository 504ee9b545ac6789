/**
 * Peer wire messages (BEP 3, BEP 6 fast extension, BEP 10 extended, BEP 5 port, BEP 52 hash
 * request / hashes / hash reject) to and from bytes.
 *
 * **When to use**
 *
 * `decodeFrame` on each frame the framer yields (its length prefix removed), `encodeMessage`
 * for each message to send, `encodePieceHeader` when sending a block without copying it
 * (header and block as two buffers). `MessageFromFrame` is the same codec as a Schema, for
 * code that wants Schema's errors and composition.
 *
 * **Details**
 *
 * - Decoding is synchronous and allocates nothing for payload-less messages; lengths are
 *   checked exactly per message id, and failures are typed (`WireError` with a reason). An
 *   unknown id is a recoverable failure: the stream is still in sync and the frame may be skipped.
 * - Variable payloads (`Bitfield.bits`, `Piece.block`, `Extended.payload`, `piecesRoot`,
 *   `Hashes.hashes`) are views into the frame: do not reuse the frame's memory while they are held.
 * - A `Hashes` frame must hold whole 32-byte hashes; whether their count fits the request
 *   is the receiver's check (metainfo/hash-tree.ts), which knows the request.
 * - Encoding trusts its input's ranges (the `Message` schema states them).
 *
 * **Example**
 *
 * ```ts
 * const bytes = encodeMessage({ _tag: "Request", index: 3, begin: 16384, length: 16384 })
 * const back = decodeFrame(bytes.subarray(4)) // Result.succeed({ _tag: "Request", index: 3, ... })
 * ```
 */
import { Result } from "effect"
import { WireError } from "./errors.ts"
import { Message, MessageId, messageName } from "./message.ts"
import { bytesView } from "./schema-view.ts"

// Reads never go out of bounds: every caller checks the frame length first.
const u32 = (b: Uint8Array, o: number): number =>
  (((b[o] ?? 0) << 24) | ((b[o + 1] ?? 0) << 16) | ((b[o + 2] ?? 0) << 8) | (b[o + 3] ?? 0)) >>> 0

const putU32 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v >>> 24
  b[o + 1] = v >>> 16
  b[o + 2] = v >>> 8
  b[o + 3] = v
}

const badLength = (id: number, expected: string, got: number) =>
  Result.fail(
    new WireError({
      reason: "BadLength",
      messageId: id,
      message: `message id ${id} (${messageName(id)}): expected ${expected} bytes, got ${got}`
    })
  )

// Shared instances for the payload-less messages: decoding them allocates nothing.
const KEEP_ALIVE = Result.succeed<Message>({ _tag: "KeepAlive" })
const SIMPLE: ReadonlyArray<Result.Result<Message, never>> = [
  Result.succeed({ _tag: "Choke" }),
  Result.succeed({ _tag: "Unchoke" }),
  Result.succeed({ _tag: "Interested" }),
  Result.succeed({ _tag: "NotInterested" })
]
/** Bytes of a hash request / hash reject frame: id, pieces root, base layer, index, length, proof layers. */
const HASH_RANGE_FRAME = 1 + 32 + 16

/** The fields of a hash request, hashes or hash reject whose id byte is at `frame[o]`. */
const hashRange = (frame: Uint8Array, o: number) => ({
  piecesRoot: frame.subarray(o + 1, o + 33),
  baseLayer: u32(frame, o + 33),
  index: u32(frame, o + 37),
  length: u32(frame, o + 41),
  proofLayers: u32(frame, o + 45)
})

const HAVE_ALL = Result.succeed<Message>({ _tag: "HaveAll" })
const HAVE_NONE = Result.succeed<Message>({ _tag: "HaveNone" })

/**
 * Decodes one frame (length prefix already removed; the empty frame is a keep-alive).
 * Lengths are checked exactly per id. `Bitfield.bits`, `Piece.block` and `Extended.payload`
 * are views into `frame`: the caller must not reuse `frame`'s memory while it keeps them.
 * Unknown ids fail with reason `UnknownMessageId` (`error.recoverable === true`): the stream is
 * still in sync and the caller may skip the frame.
 */
export const decodeFrame = (frame: Uint8Array): Result.Result<Message, WireError> => decodeFrameAt(frame, 0, frame.length)

/**
 * `decodeFrame` of the `n` bytes of `frame` from offset `o` on, without making a view of them
 * first: the framer decodes a frame that lies inside one received chunk in place (a `have`
 * or a `request` then allocates nothing but its message; they are most of a swarm's frames).
 * Requires `o + n <= frame.length`.
 */
export const decodeFrameAt = (frame: Uint8Array, o: number, n: number): Result.Result<Message, WireError> => {
  if (n === 0) return KEEP_ALIVE
  const id = frame[o] ?? 0
  switch (id) {
    case 0:
    case 1:
    case 2:
    case 3: {
      if (n !== 1) return badLength(id, "1", n)
      return SIMPLE[id] ?? KEEP_ALIVE
    }
    case MessageId.Have:
    case MessageId.Suggest:
    case MessageId.AllowedFast: {
      if (n !== 5) return badLength(id, "5", n)
      const index = u32(frame, o + 1)
      return Result.succeed(
        id === MessageId.Have
          ? { _tag: "Have", index }
          : id === MessageId.Suggest
          ? { _tag: "Suggest", index }
          : { _tag: "AllowedFast", index }
      )
    }
    case MessageId.Bitfield:
      return Result.succeed({ _tag: "Bitfield", bits: frame.subarray(o + 1, o + n) })
    case MessageId.Request:
    case MessageId.Cancel:
    case MessageId.Reject: {
      if (n !== 13) return badLength(id, "13", n)
      const index = u32(frame, o + 1)
      const begin = u32(frame, o + 5)
      const length = u32(frame, o + 9)
      const _tag = id === MessageId.Request ? "Request" : id === MessageId.Cancel ? "Cancel" : "Reject"
      return Result.succeed({ _tag, index, begin, length })
    }
    case MessageId.Piece: {
      if (n < 9) return badLength(id, "at least 9", n)
      return Result.succeed({ _tag: "Piece", index: u32(frame, o + 1), begin: u32(frame, o + 5), block: frame.subarray(o + 9, o + n) })
    }
    case MessageId.Port: {
      if (n !== 3) return badLength(id, "3", n)
      return Result.succeed({ _tag: "Port", port: ((frame[o + 1] ?? 0) << 8) | (frame[o + 2] ?? 0) })
    }
    case MessageId.HaveAll:
    case MessageId.HaveNone: {
      if (n !== 1) return badLength(id, "1", n)
      return id === MessageId.HaveAll ? HAVE_ALL : HAVE_NONE
    }
    case MessageId.Extended: {
      if (n < 2) return badLength(id, "at least 2", n)
      return Result.succeed({ _tag: "Extended", id: frame[o + 1] ?? 0, payload: frame.subarray(o + 2, o + n) })
    }
    case MessageId.HashRequest:
    case MessageId.HashReject: {
      if (n !== HASH_RANGE_FRAME) return badLength(id, `${HASH_RANGE_FRAME}`, n)
      return Result.succeed({ _tag: id === MessageId.HashRequest ? "HashRequest" : "HashReject", ...hashRange(frame, o) })
    }
    case MessageId.Hashes: {
      if (n < HASH_RANGE_FRAME || (n - HASH_RANGE_FRAME) % 32 !== 0) {
        return badLength(id, `${HASH_RANGE_FRAME} + 32 per hash`, n)
      }
      return Result.succeed({ _tag: "Hashes", ...hashRange(frame, o), hashes: frame.subarray(o + HASH_RANGE_FRAME, o + n) })
    }
    default:
      return Result.fail(
        new WireError({
          reason: "UnknownMessageId",
          messageId: id,
          message: `message id ${id} (unknown, ${n} bytes): no such message in the protocols we speak; the frame can be skipped`
        })
      )
  }
}

/**
 * The 13 bytes that precede a piece block on the wire (length prefix, id 7, index, begin),
 * so a writer can send header then block without concatenating them.
 */
export const encodePieceHeader = (index: number, begin: number, blockLength: number): Uint8Array => {
  const out = new Uint8Array(13)
  putU32(out, 0, 9 + blockLength)
  out[4] = MessageId.Piece
  putU32(out, 5, index)
  putU32(out, 9, begin)
  return out
}

/** Bytes `m` takes on the wire, length prefix included. */
const encodedLength = (m: Message): number => {
  switch (m._tag) {
    case "KeepAlive":
      return 4
    case "Choke":
    case "Unchoke":
    case "Interested":
    case "NotInterested":
    case "HaveAll":
    case "HaveNone":
      return 5
    case "Have":
    case "Suggest":
    case "AllowedFast":
      return 9
    case "Request":
    case "Cancel":
    case "Reject":
      return 17
    case "Bitfield":
      return 5 + m.bits.length
    case "Piece":
      return 13 + m.block.length
    case "Port":
      return 7
    case "Extended":
      return 6 + m.payload.length
    case "HashRequest":
    case "HashReject":
      return 4 + HASH_RANGE_FRAME
    case "Hashes":
      return 4 + HASH_RANGE_FRAME + m.hashes.length
  }
}

/** Writes `m` (length prefix included) at `at`; `out` has `encodedLength(m)` bytes there. */
const writeMessage = (out: Uint8Array, at: number, m: Message): void => {
  const length = encodedLength(m)
  putU32(out, at, length - 4)
  if (m._tag === "KeepAlive") return
  out[at + 4] = MessageId[m._tag]
  switch (m._tag) {
    case "Have":
    case "Suggest":
    case "AllowedFast":
      putU32(out, at + 5, m.index)
      return
    case "Request":
    case "Cancel":
    case "Reject":
      putU32(out, at + 5, m.index)
      putU32(out, at + 9, m.begin)
      putU32(out, at + 13, m.length)
      return
    case "Bitfield":
      out.set(m.bits, at + 5)
      return
    case "Piece":
      putU32(out, at + 5, m.index)
      putU32(out, at + 9, m.begin)
      out.set(m.block, at + 13)
      return
    case "Port":
      out[at + 5] = m.port >>> 8
      out[at + 6] = m.port
      return
    case "Extended":
      out[at + 5] = m.id
      out.set(m.payload, at + 6)
      return
    case "HashRequest":
    case "HashReject":
    case "Hashes":
      out.set(m.piecesRoot, at + 5)
      putU32(out, at + 37, m.baseLayer)
      putU32(out, at + 41, m.index)
      putU32(out, at + 45, m.length)
      putU32(out, at + 49, m.proofLayers)
      if (m._tag === "Hashes") out.set(m.hashes, at + 53)
      return
    default:
      return
  }
}

// A pooled Buffer: a `new Uint8Array` of more than 64 bytes gets its own off-heap backing
// store, which profiles showed costing microseconds apiece (extended handshakes sent to every
// peer at once). Handed out as a plain Uint8Array view of it, like every other byte string here.
const allocate = (length: number): Uint8Array => {
  const pooled = Buffer.allocUnsafe(length)
  return new Uint8Array(pooled.buffer, pooled.byteOffset, pooled.length)
}

/**
 * Encodes a message as it goes on the wire, length prefix included. Numeric fields are
 * trusted to be in range (the Schema types say so; `MessageFromFrame` validates them).
 * A `Piece` is copied here; hot writers use `encodePieceHeader` + the block instead.
 */
export const encodeMessage = (m: Message): Uint8Array => {
  const out = allocate(encodedLength(m))
  writeMessage(out, 0, m)
  return out
}

/**
 * Encodes messages back to back into one buffer: a batch of requests is one allocation and
 * one write instead of one per 17-byte message.
 */
export const encodeMessages = (messages: ReadonlyArray<Message>): Uint8Array => {
  let total = 0
  for (const m of messages) total += encodedLength(m)
  const out = allocate(total)
  let at = 0
  for (const m of messages) {
    writeMessage(out, at, m)
    at += encodedLength(m)
  }
  return out
}

/**
 * Schema view of the codec: encoded side = one frame without its length prefix (what the
 * framer yields), type side = `Message`. Decode failures carry the WireError's message.
 */
export const MessageFromFrame = bytesView(Message, decodeFrame, (m: Message) => encodeMessage(m).subarray(4))
