/**
 * Splitting one connection's byte stream into the handshake and then BEP 3 frames.
 *
 * **When to use**
 *
 * Make one `Framer` per connection and `push` every chunk the socket delivers; then take the
 * handshake (`takeHandshake`, or `takeHandshakeHeader` to route an incoming connection by
 * info-hash before its peer id arrives) and, after it, frames with `nextMessage` (decoded) or
 * `next` (raw). It never reads the socket itself, so the same framer serves real TCP, the
 * simulator and tests that feed bytes by hand.
 *
 * **Details**
 *
 * - Zero-copy where possible: a frame inside one chunk is a view of it; only a frame that
 *   spans chunks is copied, once all its bytes are in. Memory held is what was received.
 * - A hostile length prefix (above `maxFrameLength`, 1 MiB by default) fails before anything
 *   is allocated, and the failure is sticky: the stream cannot be resynchronised.
 * - Frames come out in order, each exactly once; an empty frame is a keep-alive.
 *
 * **Example**
 *
 * ```ts
 * const framer = makeFramer()
 * framer.push(chunk) // as bytes arrive
 * const hs = framer.takeHandshake() // Result: undefined until all 68 bytes are in
 * for (let m = framer.nextMessage(); Result.isSuccess(m) && m.success !== undefined; m = framer.nextMessage()) {
 *   handle(m.success)
 * }
 * ```
 */
import { Result } from "effect"
import { uninitialized } from "../bytes.ts"
import { decodeFrameAt } from "./codec.ts"
import { WireError } from "./errors.ts"
import {
  checkHandshakePrefix,
  decodeHandshake,
  decodeHandshakeHeader,
  HANDSHAKE_HEADER_LENGTH,
  HANDSHAKE_LENGTH
} from "./handshake.ts"
import type { Handshake, HandshakeHeader } from "./handshake.ts"
import { type Message, MessageId } from "./message.ts"

/** Largest frame we accept by default: a 16 KiB block, a big bitfield or a BEP 9 piece fit easily. */
export const DEFAULT_MAX_FRAME_LENGTH = 1 << 20

export interface FramerOptions {
  /** Largest payload (length prefix excluded) accepted before failing with FrameTooLarge. */
  readonly maxFrameLength?: number
}

/**
 * Incremental splitter for one connection's byte stream: first the handshake (`takeHandshake`,
 * or `takeHandshakeHeader` then `take(20)`), then length-prefixed frames (`next` / `feed`).
 *
 * Invariants:
 * - Chunks are kept by reference until fully consumed; callers must not mutate a chunk after
 *   `push`ing it (frames handed out may be views into it).
 * - A frame inside one chunk is returned as a `subarray` of it. Only a frame spanning chunks is
 *   copied, into a buffer of exactly its length, allocated once all its bytes have arrived
 *   (so memory held is at most the bytes actually received).
 * - A length prefix above `maxFrameLength` fails as soon as its 4 bytes are in, before any
 *   allocation; the error is sticky (the stream cannot be resynchronised).
 * - `nextMessage` never copies a piece block that lies inside one chunk, even when its 9-byte
 *   header is in the chunk before (a writer that sends header and block as separate buffers).
 */
export interface Framer {
  /** Queue a chunk of received bytes (not copied). */
  readonly push: (chunk: Uint8Array) => void
  /** Next frame (payload without the length prefix; empty = keep-alive), or `undefined` when more bytes are needed. */
  readonly next: () => Result.Result<Uint8Array | undefined, WireError>
  /**
   * Next frame, decoded (`decodeFrame`). Prefer it to `next` + `decodeFrame`: a piece whose
   * header and block arrived in different chunks is not stitched into a copy.
   */
  readonly nextMessage: () => Result.Result<Message | undefined, WireError>
  /** `push` then drain every complete frame. */
  readonly feed: (chunk: Uint8Array) => Result.Result<ReadonlyArray<Uint8Array>, WireError>
  /** Exactly `n` raw bytes (a view when possible), or `undefined` if fewer are buffered. For the handshake phase only. */
  readonly take: (n: number) => Uint8Array | undefined
  /** The 48-byte handshake header (pstr, reserved, info-hash), failing early on a bad pstr. */
  readonly takeHandshakeHeader: () => Result.Result<HandshakeHeader | undefined, WireError>
  /** The full 68-byte handshake, failing early on a bad pstr. */
  readonly takeHandshake: () => Result.Result<Handshake | undefined, WireError>
  /** Bytes received and not yet handed out (a parsed-but-incomplete frame's prefix excluded). */
  readonly buffered: () => number
}

const EMPTY = new Uint8Array(0)
/** Message id, index and begin: the bytes of a piece frame before its block. */
const PIECE_HEADER = 9
const NEED_MORE = Result.succeed(undefined)

export const makeFramer = (options: FramerOptions = {}): Framer => {
  const maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH
  const chunks: Array<Uint8Array> = []
  let head = 0 // index of the first live chunk
  let offset = 0 // bytes of chunks[head] already consumed
  let size = 0 // bytes buffered from (head, offset) on
  let pending = -1 // payload length of the frame whose prefix was consumed, or -1
  let failure: Result.Result<never, WireError> | undefined

  const push = (chunk: Uint8Array): void => {
    if (chunk.length === 0) return
    chunks.push(chunk)
    size += chunk.length
  }

  const dropConsumedChunks = (): void => {
    if (head === chunks.length) {
      chunks.length = 0
      head = 0
    } else if (head > 64 && head * 2 > chunks.length) {
      chunks.splice(0, head)
      head = 0
    }
  }

  // Skips n <= size bytes.
  const advance = (n: number): void => {
    size -= n
    while (n > 0) {
      const c = chunks[head]
      if (c === undefined) break
      const left = c.length - offset
      if (n < left) {
        offset += n
        return
      }
      n -= left
      head++
      offset = 0
    }
    dropConsumedChunks()
  }

  // Requires n <= size.
  const takeUnchecked = (n: number): Uint8Array => {
    if (n === 0) return EMPTY
    const first = chunks[head]
    if (first !== undefined && first.length - offset >= n) {
      const view = first.subarray(offset, offset + n)
      advance(n)
      return view
    }
    // every byte is set below (n <= size): no zero-fill for a block that spans chunks
    const out = uninitialized(n)
    let filled = 0
    while (filled < n) {
      const c = chunks[head]
      if (c === undefined) break
      const part = c.subarray(offset, Math.min(c.length, offset + n - filled))
      out.set(part, filled)
      filled += part.length
      advance(part.length)
    }
    return out
  }

  const take = (n: number): Uint8Array | undefined => (size < n ? undefined : takeUnchecked(n))

  // Reads a 4-byte big-endian number (a length prefix, a piece header field) across chunk boundaries without allocating.
  const readU32 = (): number => {
    const c0 = chunks[head]
    if (c0 !== undefined && c0.length - offset >= 4) {
      const o = offset
      advance(4)
      return (c0[o] ?? 0) * 0x100_0000 + (((c0[o + 1] ?? 0) << 16) | ((c0[o + 2] ?? 0) << 8) | (c0[o + 3] ?? 0))
    }
    let v = 0
    for (let i = 0; i < 4; i++) {
      const c = chunks[head]
      v = v * 256 + (c?.[offset] ?? 0)
      advance(1)
    }
    return v
  }

  /** Reads the next length prefix if none is pending; false when its 4 bytes are not in yet or it is too large. */
  const framePending = (): boolean => {
    if (pending >= 0) return true
    if (failure !== undefined || size < 4) return false
    const length = readU32()
    if (length > maxFrameLength) {
      failure = Result.fail(
        new WireError({
          reason: "FrameTooLarge",
          message: `frame length ${length} exceeds the limit of ${maxFrameLength} bytes`
        })
      )
      return false
    }
    pending = length
    return true
  }

  const next = (): Result.Result<Uint8Array | undefined, WireError> => {
    if (!framePending()) return failure ?? NEED_MORE
    if (size < pending) return NEED_MORE
    const frame = takeUnchecked(pending)
    pending = -1
    return Result.succeed(frame)
  }

  const nextMessage = (): Result.Result<Message | undefined, WireError> => {
    if (!framePending()) return failure ?? NEED_MORE
    if (size < pending) return NEED_MORE
    const first = chunks[head]
    if (pending > PIECE_HEADER && first !== undefined && first.length - offset < pending && first[offset] === MessageId.Piece) {
      // The frame spans chunks: read the header field by field so the block can stay a view.
      advance(1)
      const index = readU32()
      const begin = readU32()
      const block = takeUnchecked(pending - PIECE_HEADER)
      pending = -1
      return Result.succeed({ _tag: "Piece", index, begin, block })
    }
    if (first !== undefined && first.length - offset >= pending) {
      // The whole frame is in this chunk: decode it in place, no view of it first.
      const message = decodeFrameAt(first, offset, pending)
      advance(pending)
      pending = -1
      return message
    }
    const frame = takeUnchecked(pending)
    pending = -1
    return decodeFrameAt(frame, 0, frame.length)
  }

  const feed = (chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, WireError> => {
    push(chunk)
    const frames: Array<Uint8Array> = []
    while (true) {
      const r = next()
      if (Result.isFailure(r)) return Result.fail(r.failure)
      if (r.success === undefined) return Result.succeed(frames)
      frames.push(r.success)
    }
  }

  // Validates whatever part of the pstr has arrived, so garbage is rejected on its first byte.
  const earlyCheck = (): WireError | undefined => {
    const n = Math.min(size, 20)
    const first = chunks[head]
    const prefix = first !== undefined && first.length - offset >= n
      ? first.subarray(offset, offset + n)
      : copyPrefix(n)
    return checkHandshakePrefix(prefix)
  }

  const copyPrefix = (n: number): Uint8Array => {
    const out = new Uint8Array(n)
    let filled = 0
    for (let i = head; i < chunks.length && filled < n; i++) {
      const c = chunks[i]
      if (c === undefined) break
      const from = i === head ? offset : 0
      const part = c.subarray(from, Math.min(c.length, from + n - filled))
      out.set(part, filled)
      filled += part.length
    }
    return out
  }

  const takeHandshakeLike = <A>(
    length: number,
    decode: (bytes: Uint8Array) => Result.Result<A, WireError>
  ): Result.Result<A | undefined, WireError> => {
    if (failure !== undefined) return failure
    const err = earlyCheck()
    if (err !== undefined) {
      failure = Result.fail(err)
      return failure
    }
    if (size < length) return NEED_MORE
    return decode(takeUnchecked(length))
  }

  return {
    push,
    next,
    nextMessage,
    feed,
    take,
    takeHandshakeHeader: () => takeHandshakeLike(HANDSHAKE_HEADER_LENGTH, decodeHandshakeHeader),
    takeHandshake: () => takeHandshakeLike(HANDSHAKE_LENGTH, decodeHandshake),
    buffered: () => size
  }
}
