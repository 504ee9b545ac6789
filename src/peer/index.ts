/**
 * Peer sessions: the handshake, and one supervised fiber per connection that speaks the
 * peer-wire protocol, fills a bandwidth-delay-sized request pipeline, and serves requests.
 */
export { PeerError, PeerErrorReason } from "./errors.ts"
export { handshakeIncoming, handshakeOutgoing, type OurHandshake, readHandshakeHeader } from "./handshake.ts"
export type { BlockRef, PeerLink, PeerStats, TorrentLink } from "./link.ts"
export { DEFAULT_PIPELINE, pipelineDepth, type PipelineLimits } from "./pipeline.ts"
export { makeRateMeter, type RateMeter } from "./rate.ts"
export { DEFAULT_SESSION_OPTIONS, type SessionOptions } from "./options.ts"
export { runSession } from "./session.ts"
export { type PeerDialer, tcpDialer } from "./dialer.ts"
export {
  makeTransportMemory,
  orderFor,
  parseTransports,
  type Transport,
  transportDialer,
  type TransportDialerOptions,
  type TransportMemory,
  TRANSPORTS
} from "./transport.ts"
