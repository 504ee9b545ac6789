/**
 * Peer-wire protocol codec (BEP 3, 5, 6, 10, 20, 21): handshake, messages, framing, bitfields.
 *
 * Typical connection loop: `push` each received chunk into a `Framer`; in the handshake phase
 * call `takeHandshakeHeader` (route by info-hash, answer) then `take(20)` for the peer id, or
 * `takeHandshake`; afterwards `next()` / `feed()` yield frames for `decodeFrame`.
 * Decoded byte payloads alias the received chunks (no copies).
 */
export * as Bitfield from "./bitfield.ts"
export { decodeFrame, encodeMessage, encodeMessages, encodePieceHeader, MessageFromFrame } from "./codec.ts"
export { WireError, WireErrorReason } from "./errors.ts"
export {
  decodeExtendedHandshake,
  type DecodeExtendedOptions,
  encodeExtendedHandshake,
  EXTENDED_HANDSHAKE_ID,
  ExtendedHandshake,
  ExtendedHandshakeFromBytes,
  extendedHandshakeMessage
} from "./extended.ts"
export { DEFAULT_MAX_FRAME_LENGTH, type Framer, type FramerOptions, makeFramer } from "./framer.ts"
export {
  type Capabilities,
  capabilities,
  decodeHandshake,
  decodeHandshakeHeader,
  encodeHandshake,
  type Handshake,
  HANDSHAKE_HEADER_LENGTH,
  HANDSHAKE_LENGTH,
  type HandshakeHeader,
  makeReserved,
  PROTOCOL,
  supportsDht,
  supportsExtensionProtocol,
  supportsFast,
  supportsV2
} from "./handshake.ts"
export { Message, MessageId, messageName, type MessageTag } from "./message.ts"
export { clientFromPeerId, makePeerId, PEER_ID_LENGTH } from "./peerId.ts"
export {
  decodeUtMetadata,
  encodeUtMetadata,
  METADATA_PIECE_SIZE,
  metadataPieceCount,
  type UtMetadataMessage
} from "./ut-metadata.ts"
export { decodeUtPex, encodeUtPex, PEX_MAX_PEERS, PEX_PREFERS_ENCRYPTION, PEX_UTP, type PexMessage, type PexPeer } from "./ut-pex.ts"
