/**
 * The uTP packet format (BEP 29, version 1): the 20-byte header, the extension chain and
 * the selective-ack bitmask, plus 16-bit sequence arithmetic. Pure.
 *
 * **When to use**
 *
 * `parseInto` on the receive path: it fills a caller-owned `PacketHeader` and allocates
 * nothing (the payload and the bitmask are views into the datagram). `decodePacket` is
 * the same check returning a fresh value or a typed error, for tests and diagnostics.
 * `writeHeader` / `writeSack` fill a buffer the caller sized.
 *
 * **Details**
 *
 * Everything a remote chooses is bounded by the datagram itself: extension lengths are
 * checked against the bytes that are there and nothing is allocated from them. Unknown
 * extensions are skipped (BEP 29: "skipped by simply advancing len bytes"); libtorrent
 * sends a close-reason extension (type 3), for instance.
 *
 * @example
 * ```ts
 * const header = emptyHeader()
 * if (parseInto(datagram, header) === undefined && header.type === ST_DATA) {
 *   const payload = datagram.subarray(header.payloadOffset)
 * }
 * ```
 */
import { Result, Schema } from "effect"

export const ST_DATA = 0
export const ST_FIN = 1
export const ST_STATE = 2
export const ST_RESET = 3
export const ST_SYN = 4

export const VERSION = 1
export const HEADER_SIZE = 20
export const EXT_NONE = 0
export const EXT_SACK = 1

/** Why a datagram is not a uTP packet we accept. */
export const UtpDecodeReason = Schema.Literals(["TooShort", "BadVersion", "BadType", "BadExtension"])
export type UtpDecodeReason = typeof UtpDecodeReason.Type

export class UtpDecodeError extends Schema.TaggedError<UtpDecodeError>()("UtpDecodeError", {
  reason: UtpDecodeReason,
  message: Schema.String
}) {}

/** A decoded header. `sack` is a view of the selective-ack bitmask, when the packet has one. */
export interface PacketHeader {
  type: number
  connectionId: number
  timestamp: number
  timestampDiff: number
  wndSize: number
  seqNr: number
  ackNr: number
  sack: Uint8Array | undefined
  /** Where the payload starts: after the header and its extensions. */
  payloadOffset: number
}

export const emptyHeader = (): PacketHeader => ({
  type: 0,
  connectionId: 0,
  timestamp: 0,
  timestampDiff: 0,
  wndSize: 0,
  seqNr: 0,
  ackNr: 0,
  sack: undefined,
  payloadOffset: HEADER_SIZE
})

/**
 * Whether a datagram has the shape of a uTP v1 packet: at least a header, version 1 and
 * a known type. What the shared UDP port demultiplexes on: a bencoded KRPC message starts
 * with `d` (0x64, version nibble 4) and a BEP 15 tracker reply with a zero byte.
 */
export const looksLikeUtp = (bytes: Uint8Array): boolean => {
  const first = bytes[0] ?? 0
  return bytes.length >= HEADER_SIZE && (first & 0x0f) === VERSION && first >> 4 <= ST_SYN
}

const u16 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0)
const u32 = (b: Uint8Array, at: number): number =>
  (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0

/**
 * Fills `into` from `bytes`; returns the reason when the datagram is not an acceptable
 * packet (then `into` is partly overwritten). Allocates nothing.
 */
export const parseInto = (bytes: Uint8Array, into: PacketHeader): UtpDecodeReason | undefined => {
  if (bytes.length < HEADER_SIZE) return "TooShort"
  const first = bytes[0] ?? 0
  if ((first & 0x0f) !== VERSION) return "BadVersion"
  const type = first >> 4
  if (type > ST_SYN) return "BadType"
  into.type = type
  into.connectionId = u16(bytes, 2)
  into.timestamp = u32(bytes, 4)
  into.timestampDiff = u32(bytes, 8)
  into.wndSize = u32(bytes, 12)
  into.seqNr = u16(bytes, 16)
  into.ackNr = u16(bytes, 18)
  into.sack = undefined
  let extension = bytes[1] ?? 0
  let at = HEADER_SIZE
  while (extension !== EXT_NONE) {
    if (at + 2 > bytes.length) return "BadExtension"
    const next = bytes[at] ?? 0
    const length = bytes[at + 1] ?? 0
    at += 2
    if (at + length > bytes.length) return "BadExtension"
    // BEP 29 asks for a multiple of 32 bits; any length is read as far as it goes
    if (extension === EXT_SACK && length > 0) into.sack = bytes.subarray(at, at + length)
    at += length
    extension = next
  }
  into.payloadOffset = at
  return undefined
}

const reasonText: Record<UtpDecodeReason, string> = {
  TooShort: "shorter than the 20-byte header",
  BadVersion: "not uTP version 1",
  BadType: "unknown packet type",
  BadExtension: "extension chain runs past the end of the datagram"
}

export interface Packet extends PacketHeader {
  readonly payload: Uint8Array
}

/** `parseInto` as a value: a fresh header plus the payload view, or a typed error. */
export const decodePacket = (bytes: Uint8Array): Result.Result<Packet, UtpDecodeError> => {
  const header = emptyHeader()
  const reason = parseInto(bytes, header)
  if (reason !== undefined) return Result.fail(new UtpDecodeError({ reason, message: `uTP packet: ${reasonText[reason]}` }))
  return Result.succeed({ ...header, payload: bytes.subarray(header.payloadOffset) })
}

export interface HeaderFields {
  readonly type: number
  readonly connectionId: number
  readonly timestamp: number
  readonly timestampDiff: number
  readonly wndSize: number
  readonly seqNr: number
  readonly ackNr: number
}

/** Writes the 20-byte header at `at`; `extension` is the type of the first extension (0 = none). */
export const writeHeader = (buf: Uint8Array, at: number, h: HeaderFields, extension: number): void => {
  buf[at] = (h.type << 4) | VERSION
  buf[at + 1] = extension
  buf[at + 2] = h.connectionId >>> 8
  buf[at + 3] = h.connectionId & 0xff
  writeU32(buf, at + 4, h.timestamp)
  writeU32(buf, at + 8, h.timestampDiff)
  writeU32(buf, at + 12, h.wndSize)
  buf[at + 16] = h.seqNr >>> 8
  buf[at + 17] = h.seqNr & 0xff
  buf[at + 18] = h.ackNr >>> 8
  buf[at + 19] = h.ackNr & 0xff
}

export const writeU32 = (buf: Uint8Array, at: number, value: number): void => {
  buf[at] = value >>> 24
  buf[at + 1] = (value >>> 16) & 0xff
  buf[at + 2] = (value >>> 8) & 0xff
  buf[at + 3] = value & 0xff
}

/**
 * Writes a selective-ack extension (next = none) at `at`: `bitmask.length` bytes (a
 * multiple of 4) after the 2-byte extension header. Bit i of the mask (byte i >> 3, bit
 * i & 7) stands for packet ack_nr + 2 + i. Returns the bytes written.
 */
export const writeSack = (buf: Uint8Array, at: number, bitmask: Uint8Array): number => {
  buf[at] = EXT_NONE
  buf[at + 1] = bitmask.length
  buf.set(bitmask, at + 2)
  return 2 + bitmask.length
}

/** Whether packet `ackNr + 2 + i` is marked received in a selective-ack bitmask. */
export const sackHas = (bitmask: Uint8Array, i: number): boolean => (((bitmask[i >> 3] ?? 0) >> (i & 7)) & 1) === 1

// ---- 16-bit sequence numbers ------------------------------------------------

export const SEQ_MASK = 0xffff

/** `a - b` in 16-bit wrap-around arithmetic, as a signed distance in [-32768, 32767]. */
export const seqDiff = (a: number, b: number): number => (((a - b) & SEQ_MASK) ^ 0x8000) - 0x8000

/** Whether `a` comes before `b` (wrap-around aware). */
export const seqLess = (a: number, b: number): boolean => seqDiff(a, b) < 0

export const seqAdd = (a: number, n: number): number => (a + n) & SEQ_MASK
