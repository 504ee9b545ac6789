import { Schema } from "effect"

/** Why an incoming datagram is not a valid KRPC message. */
export const KrpcErrorReason = Schema.Literals([
  "Oversized",
  "Bencode",
  "NotADict",
  "MissingField",
  "WrongType",
  "BadLength",
  "BadValue",
  "UnknownType",
  "UnknownMethod"
])
export type KrpcErrorReason = typeof KrpcErrorReason.Type

/**
 * A datagram rejected by the KRPC decoder. When the datagram was recognisably
 * a query with a transaction id, `transactionId` is set so the node can answer
 * with a KRPC error (203 protocol error, 204 unknown method).
 */
export class KrpcDecodeError extends Schema.TaggedError<KrpcDecodeError>()("KrpcDecodeError", {
  reason: KrpcErrorReason,
  message: Schema.String,
  transactionId: Schema.optional(Schema.Uint8Array),
  isQuery: Schema.Boolean
}) {}

/** A query we sent got no response after every attempt. */
export class DhtTimeout extends Schema.TaggedError<DhtTimeout>()("DhtTimeout", {
  address: Schema.String,
  method: Schema.String,
  attempts: Schema.Number
}) {
  override get message(): string {
    return `${this.method} to ${this.address}: no response after ${this.attempts} attempts`
  }
}

/** The remote node answered our query with a KRPC error. */
export class DhtRemoteError extends Schema.TaggedError<DhtRemoteError>()("DhtRemoteError", {
  address: Schema.String,
  method: Schema.String,
  code: Schema.Number,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.method} to ${this.address} failed with KRPC error ${this.code}: ${this.detail}`
  }
}

/** The query could not be sent (socket error, unresolvable host). */
export class DhtSendError extends Schema.TaggedError<DhtSendError>()("DhtSendError", {
  address: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `sending to ${this.address} failed: ${this.detail}`
  }
}

export type DhtQueryError = DhtTimeout | DhtRemoteError | DhtSendError
