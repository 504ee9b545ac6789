import { Schema } from "effect"

/** Unsigned 32-bit integer (indices, offsets, lengths on the wire). */
export const U32 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff_ffff }))
const U16 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff }))
const U8 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xff }))
/** A BEP 52 pieces root: SHA-256, 32 bytes. */
const Root = Schema.Uint8Array.check(Schema.isBetweenLength(32, 32))
/** What a BEP 52 hash request, hashes and hash reject message share (a range of one file's merkle tree). */
const hashRange = { piecesRoot: Root, baseLayer: U32, index: U32, length: U32, proofLayers: U32 }

/**
 * Every peer-wire message (BEP 3 core, BEP 5 port, BEP 6 fast, BEP 10 extended, BEP 52 hashes).
 * Byte payloads (`Bitfield.bits`, `Piece.block`, `Extended.payload`, `piecesRoot`,
 * `Hashes.hashes`) decoded by `decodeFrame` are views into the frame, never copies.
 * `Hashes.hashes` is 32-byte hashes back to back: the base layer's, then the uncle hashes.
 */
export const Message = Schema.TaggedUnion({
  KeepAlive: {},
  Choke: {},
  Unchoke: {},
  Interested: {},
  NotInterested: {},
  Have: { index: U32 },
  Bitfield: { bits: Schema.Uint8Array },
  Request: { index: U32, begin: U32, length: U32 },
  Piece: { index: U32, begin: U32, block: Schema.Uint8Array },
  Cancel: { index: U32, begin: U32, length: U32 },
  Port: { port: U16 },
  Suggest: { index: U32 },
  HaveAll: {},
  HaveNone: {},
  Reject: { index: U32, begin: U32, length: U32 },
  AllowedFast: { index: U32 },
  Extended: { id: U8, payload: Schema.Uint8Array },
  HashRequest: hashRange,
  Hashes: { ...hashRange, hashes: Schema.Uint8Array },
  HashReject: hashRange
})
export type Message = typeof Message.Type
export type MessageTag = Message["_tag"]

/** Wire ids (the byte after the length prefix). KeepAlive has none: it is the empty frame. */
export const MessageId = {
  Choke: 0,
  Unchoke: 1,
  Interested: 2,
  NotInterested: 3,
  Have: 4,
  Bitfield: 5,
  Request: 6,
  Piece: 7,
  Cancel: 8,
  Port: 9,
  Suggest: 0x0d,
  HaveAll: 0x0e,
  HaveNone: 0x0f,
  Reject: 0x10,
  AllowedFast: 0x11,
  Extended: 20,
  HashRequest: 21,
  Hashes: 22,
  HashReject: 23
} as const satisfies Record<Exclude<MessageTag, "KeepAlive">, number>

const NAMES: ReadonlyArray<readonly [number, string]> = [
  [0, "choke"],
  [1, "unchoke"],
  [2, "interested"],
  [3, "not interested"],
  [4, "have"],
  [5, "bitfield"],
  [6, "request"],
  [7, "piece"],
  [8, "cancel"],
  [9, "port"],
  [0x0d, "suggest"],
  [0x0e, "have all"],
  [0x0f, "have none"],
  [0x10, "reject"],
  [0x11, "allowed fast"],
  [20, "extended"],
  [21, "hash request"],
  [22, "hashes"],
  [23, "hash reject"]
]
const NAME_BY_ID = new Map(NAMES)

/** Human name of a wire id, for error messages. */
export const messageName = (id: number): string => NAME_BY_ID.get(id) ?? "unknown"
