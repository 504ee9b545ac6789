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
  /**
   * `push` for a chunk of memory that is about to be reused (a connection's lent read buffer,
   * `Connection.readable`'s `lent`); call `keepRest` before it is. From then on the framer
   * is transient: a frame handed out is valid until the next frame is taken or `keepRest`
   * (a piece's block is a view of the chunk, or of one buffer the framer assembles frames
   * that span chunks in; other frames that hold bytes, a bitfield or an extended payload,
   * are copies), so a caller copies what it keeps longer.
   */
  readonly pushLent: (chunk: Uint8Array) => void
  /** Copies the bytes still buffered into the framer's own carry buffer (reused from one call to the next). */
  readonly keepRest: () => void
}

/** Frames whose decoded message holds bytes of the frame (bitfield, extended, BEP 52 hashes): copied when transient. */
const holdsBytes = (id: number | undefined): boolean =>
  id === MessageId.Bitfield || id === MessageId.Extended || id === MessageId.HashRequest || id === MessageId.Hashes || id === MessageId.HashReject

const EMPTY = new Uint8Array(0)
/** Message id, index and begin: the bytes of a piece frame before its block. */
const PIECE_HEADER = 9
const NEED_MORE = Result.succeed(undefined)

/**
 * A class, not a closure per operation: a connected peer keeps its framer for its whole life,
 * and one object with its methods on the prototype costs a fraction of fifteen closures and
 * their context (issue 15: idle peers).
 */
class FramerImpl implements Framer {
  private readonly chunks: Array<Uint8Array> = []
  private head = 0 // index of the first live chunk
  private offset = 0 // bytes of chunks[head] already consumed
  private size = 0 // bytes buffered from (head, offset) on
  private pending = -1 // payload length of the frame whose prefix was consumed, or -1
  private failure: Result.Result<never, WireError> | undefined = undefined
  private readonly maxFrameLength: number
  /** Where `keepRest` keeps the buffered bytes (grown as needed, then reused). */
  private carry: Uint8Array | undefined = undefined
  /** Where a frame that spans chunks is assembled once the framer is transient (`pushLent`). */
  private scratch: Uint8Array | undefined = undefined
  private transient = false

  constructor(maxFrameLength: number) {
    this.maxFrameLength = maxFrameLength
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.size += chunk.length
  }

  private dropConsumedChunks(): void {
    const chunks = this.chunks
    if (this.head === chunks.length) {
      chunks.length = 0
      this.head = 0
    } else if (this.head > 64 && this.head * 2 > chunks.length) {
      chunks.splice(0, this.head)
      this.head = 0
    }
  }

  // Skips n <= size bytes.
  private advance(n: number): void {
    this.size -= n
    while (n > 0) {
      const c = this.chunks[this.head]
      if (c === undefined) break
      const left = c.length - this.offset
      if (n < left) {
        this.offset += n
        return
      }
      n -= left
      this.head++
      this.offset = 0
    }
    this.dropConsumedChunks()
  }

  // Requires n <= size.
  private takeUnchecked(n: number): Uint8Array {
    if (n === 0) return EMPTY
    const first = this.chunks[this.head]
    if (first !== undefined && first.length - this.offset >= n) {
      const view = first.subarray(this.offset, this.offset + n)
      this.advance(n)
      return view
    }
    // every byte is set below (n <= size): no zero-fill for a block that spans chunks.
    // Transient, a frame is valid until the next one is taken: one buffer serves them all.
    const out = this.transient ? this.scratchOf(n) : uninitialized(n)
    this.copyOut(out)
    return out
  }

  private scratchOf(n: number): Uint8Array {
    if (this.scratch === undefined || this.scratch.length < n) this.scratch = uninitialized(Math.max(n, 20 * 1024))
    return this.scratch.subarray(0, n)
  }

  // Moves the next out.length (<= size) buffered bytes into `out`.
  private copyOut(out: Uint8Array): void {
    const n = out.length
    let filled = 0
    while (filled < n) {
      const c = this.chunks[this.head]
      if (c === undefined) break
      const part = c.subarray(this.offset, Math.min(c.length, this.offset + n - filled))
      out.set(part, filled)
      filled += part.length
      this.advance(part.length)
    }
  }

  pushLent(chunk: Uint8Array): void {
    this.transient = true
    this.push(chunk)
  }

  keepRest(): void {
    const size = this.size
    if (size === 0) {
      this.chunks.length = 0
      this.head = 0
      this.offset = 0
      return
    }
    let carry = this.carry
    const first = this.chunks[this.head]
    if (carry === undefined || carry.length < size) {
      // a fresh, larger carry: the rest (old carry included) is copied into it
      carry = uninitialized(Math.max(size, 2 * (carry?.length ?? 0), 20 * 1024))
      this.copyOut(carry.subarray(0, size))
    } else {
      // Only the first live chunk can be the carry (what `keepRest` left, pushed before
      // anything else): move its part to the front in place, then copy the chunks after it.
      let at = 0
      if (first !== undefined && first.buffer === carry.buffer) {
        const from = first.byteOffset - carry.byteOffset + this.offset
        const n = first.length - this.offset
        carry.copyWithin(0, from, from + n)
        at = n
        this.advance(n)
      }
      this.copyOut(carry.subarray(at, size))
    }
    this.carry = carry
    this.chunks.length = 0
    this.chunks.push(carry.subarray(0, size))
    this.head = 0
    this.offset = 0
    this.size = size
  }

  take(n: number): Uint8Array | undefined {
    return this.size < n ? undefined : this.takeUnchecked(n)
  }

  // Reads a 4-byte big-endian number (a length prefix, a piece header field) across chunk boundaries without allocating.
  private readU32(): number {
    const c0 = this.chunks[this.head]
    if (c0 !== undefined && c0.length - this.offset >= 4) {
      const o = this.offset
      this.advance(4)
      return (c0[o] ?? 0) * 0x100_0000 + (((c0[o + 1] ?? 0) << 16) | ((c0[o + 2] ?? 0) << 8) | (c0[o + 3] ?? 0))
    }
    let v = 0
    for (let i = 0; i < 4; i++) {
      const c = this.chunks[this.head]
      v = v * 256 + (c?.[this.offset] ?? 0)
      this.advance(1)
    }
    return v
  }

  /** Reads the next length prefix if none is pending; false when its 4 bytes are not in yet or it is too large. */
  private framePending(): boolean {
    if (this.pending >= 0) return true
    if (this.failure !== undefined || this.size < 4) return false
    const length = this.readU32()
    if (length > this.maxFrameLength) {
      this.failure = Result.fail(
        new WireError({
          reason: "FrameTooLarge",
          message: `frame length ${length} exceeds the limit of ${this.maxFrameLength} bytes`
        })
      )
      return false
    }
    this.pending = length
    return true
  }

  next(): Result.Result<Uint8Array | undefined, WireError> {
    if (!this.framePending()) return this.failure ?? NEED_MORE
    if (this.size < this.pending) return NEED_MORE
    const frame = this.takeUnchecked(this.pending)
    this.pending = -1
    return Result.succeed(frame)
  }

  nextMessage(): Result.Result<Message | undefined, WireError> {
    if (!this.framePending()) return this.failure ?? NEED_MORE
    const pending = this.pending
    if (this.size < pending) return NEED_MORE
    const first = this.chunks[this.head]
    if (pending > PIECE_HEADER && first !== undefined && first.length - this.offset < pending && first[this.offset] === MessageId.Piece) {
      // The frame spans chunks: read the header field by field so the block can stay a view.
      this.advance(1)
      const index = this.readU32()
      const begin = this.readU32()
      const block = this.takeUnchecked(pending - PIECE_HEADER)
      this.pending = -1
      return Result.succeed({ _tag: "Piece", index, begin, block })
    }
    if (this.transient && pending > 0 && holdsBytes(first?.[this.offset])) {
      // a copy of its own: the message may be kept past the next read
      const frame = uninitialized(pending)
      this.copyOut(frame)
      this.pending = -1
      return decodeFrameAt(frame, 0, pending)
    }
    if (first !== undefined && first.length - this.offset >= pending) {
      // The whole frame is in this chunk: decode it in place, no view of it first.
      const message = decodeFrameAt(first, this.offset, pending)
      this.advance(pending)
      this.pending = -1
      return message
    }
    const frame = this.takeUnchecked(pending)
    this.pending = -1
    return decodeFrameAt(frame, 0, frame.length)
  }

  feed(chunk: Uint8Array): Result.Result<ReadonlyArray<Uint8Array>, WireError> {
    this.push(chunk)
    const frames: Array<Uint8Array> = []
    while (true) {
      const r = this.next()
      if (Result.isFailure(r)) return Result.fail(r.failure)
      if (r.success === undefined) return Result.succeed(frames)
      frames.push(r.success)
    }
  }

  // Validates whatever part of the pstr has arrived, so garbage is rejected on its first byte.
  private earlyCheck(): WireError | undefined {
    const n = Math.min(this.size, 20)
    const first = this.chunks[this.head]
    const prefix = first !== undefined && first.length - this.offset >= n
      ? first.subarray(this.offset, this.offset + n)
      : this.copyPrefix(n)
    return checkHandshakePrefix(prefix)
  }

  private copyPrefix(n: number): Uint8Array {
    const out = new Uint8Array(n)
    let filled = 0
    for (let i = this.head; i < this.chunks.length && filled < n; i++) {
      const c = this.chunks[i]
      if (c === undefined) break
      const from = i === this.head ? this.offset : 0
      const part = c.subarray(from, Math.min(c.length, from + n - filled))
      out.set(part, filled)
      filled += part.length
    }
    return out
  }

  private takeHandshakeLike<A>(
    length: number,
    decode: (bytes: Uint8Array) => Result.Result<A, WireError>
  ): Result.Result<A | undefined, WireError> {
    if (this.failure !== undefined) return this.failure
    const err = this.earlyCheck()
    if (err !== undefined) {
      this.failure = Result.fail(err)
      return this.failure
    }
    if (this.size < length) return NEED_MORE
    return decode(this.takeUnchecked(length))
  }

  takeHandshakeHeader(): Result.Result<HandshakeHeader | undefined, WireError> {
    return this.takeHandshakeLike(HANDSHAKE_HEADER_LENGTH, decodeHandshakeHeader)
  }

  takeHandshake(): Result.Result<Handshake | undefined, WireError> {
    return this.takeHandshakeLike(HANDSHAKE_LENGTH, decodeHandshake)
  }

  buffered(): number {
    return this.size
  }
}

/** A framer over `options.maxFrameLength` (default 1 MiB). Its methods need their receiver: call them on it. */
export const makeFramer = (options: FramerOptions = {}): Framer => new FramerImpl(options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH)
