import { Schema } from "effect"

/**
 * Why a peer session ended. Every ending is a value: the torrent logs it with the
 * peer's address and client name, returns the peer's requests to the picker, and
 * decides whether to retry the address later or ban it.
 *
 * - `Protocol`: the peer broke the wire protocol (bad frame, bad bitfield, out of range
 *   piece, request while choked when that is fatal...). It is disconnected.
 * - `Handshake`: wrong protocol string, wrong info-hash, or a connection to ourselves.
 * - `Timeout`: connect, handshake or idle timeout.
 * - `Banned`: too many hash failures traced to this peer.
 * - `Network`: the socket failed or closed.
 * - `Shutdown`: we closed it (pause, remove, limits, no longer useful).
 */
export const PeerErrorReason = Schema.Literals(["Protocol", "Handshake", "Timeout", "Banned", "Network", "Shutdown"])
export type PeerErrorReason = typeof PeerErrorReason.Type

export class PeerError extends Schema.TaggedError<PeerError>()("PeerError", {
  reason: PeerErrorReason,
  peer: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `peer ${this.peer}: ${this.detail}`
  }
}
