import { Schema } from "effect"

/**
 * Why a byte sequence was rejected.
 * - `BadHandshake`: wrong pstrlen/pstr or wrong total length.
 * - `BadLength`: a known message id whose payload length does not match BEP 3/5/6/10
 *   (including an extended message without its extended-id byte).
 * - `UnknownMessageId`: a well-formed frame with an id we do not implement; the
 *   framing is intact, so the caller may skip it instead of disconnecting.
 * - `FrameTooLarge`: a length prefix above the framer's limit (nothing was allocated).
 * - `BadBitfield`: wrong length for the piece count, or spare bits set (BEP 3: drop the peer).
 * - `BadExtendedHandshake`: BEP 10 handshake payload is not a bencoded dict, or a strict field check failed.
 * - `BadExtensionMessage`: a ut_metadata (BEP 9) or ut_pex (BEP 11) payload is malformed.
 */
export const WireErrorReason = Schema.Literals([
  "BadHandshake",
  "BadLength",
  "UnknownMessageId",
  "FrameTooLarge",
  "BadBitfield",
  "BadExtendedHandshake",
  "BadExtensionMessage"
])
export type WireErrorReason = typeof WireErrorReason.Type

export class WireError extends Schema.TaggedError<WireError>()("WireError", {
  reason: WireErrorReason,
  message: Schema.String,
  /** The offending message id, when the error is about one message. */
  messageId: Schema.optional(Schema.Int)
}) {
  /**
   * True when the stream is still correctly framed after this error, so skipping
   * the message is safe (only unknown ids). Every other reason means the peer is
   * broken or hostile and the connection should be dropped.
   */
  get recoverable(): boolean {
    return this.reason === "UnknownMessageId"
  }
}
