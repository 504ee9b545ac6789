import { Schema } from "effect"

/**
 * Why an MSE/PE handshake failed. Every failure closes the connection; the dialler may
 * retry the peer in plaintext (policy "prefer").
 *
 * - `BadKey`: the peer's Diffie-Hellman public value is out of range.
 * - `SyncNotFound`: a scan went past its byte limit without finding `HASH('req1', S)`
 *   (responder) or the encrypted VC (initiator).
 * - `UnknownTorrent`: the obfuscated info-hash matches no torrent we serve.
 * - `BadVerification`: the decrypted VC is not 8 zero bytes.
 * - `BadPadding`: a PadC/PadD length above 512.
 * - `NoCommonMethod`: nothing in crypto_provide that our policy allows, or a crypto_select
 *   that is not exactly one method we offered.
 * - `Timeout`: the peer was silent too long at some step.
 * - `Network`: the connection failed or closed during the handshake.
 * - `NotMse`: the opening was a plaintext handshake where only MSE is allowed, or MSE where
 *   it is disabled.
 */
export const MseErrorReason = Schema.Literals([
  "BadKey",
  "SyncNotFound",
  "UnknownTorrent",
  "BadVerification",
  "BadPadding",
  "NoCommonMethod",
  "Timeout",
  "Network",
  "NotMse"
])
export type MseErrorReason = typeof MseErrorReason.Type

export class MseError extends Schema.TaggedError<MseError>()("MseError", {
  reason: MseErrorReason,
  detail: Schema.String
}) {
  override get message(): string {
    return `encryption handshake: ${this.detail}`
  }
}
