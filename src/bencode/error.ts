import { Schema } from "effect"

/** Why a bencoded input (or a field inside it) was rejected. */
export const BencodeErrorReason = Schema.Literals([
  "Empty",
  "UnexpectedEnd",
  "UnexpectedByte",
  "InvalidInteger",
  "IntegerOutOfRange",
  "InvalidStringLength",
  "NonStringKey",
  "DuplicateKey",
  "TooDeep",
  "TooManyElements",
  "TrailingData",
  "MissingField",
  "WrongType"
])
export type BencodeErrorReason = typeof BencodeErrorReason.Type

/**
 * A bencode decoding failure, or a field that is missing / of the wrong type
 * when read with the `expect*` accessors. `position` is the byte offset of the
 * problem in the input (-1 for accessor errors, which have no position).
 */
export class BencodeError extends Schema.TaggedError<BencodeError>()("BencodeError", {
  reason: BencodeErrorReason,
  message: Schema.String,
  position: Schema.Number
}) {}
