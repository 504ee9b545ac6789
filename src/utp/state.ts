/**
 * The data of one uTP connection, shared by the pure parts of the state machine
 * (sender.ts, receiver.ts, connection.ts). Plain mutable data: the per-packet path
 * allocates only the packets themselves.
 */
import { DEFAULT_LEDBAT, type Ledbat, type LedbatConfig, makeLedbat } from "./ledbat.ts"

export interface UtpConfig {
  /** Largest payload per packet: 1380 bytes keeps header, a selective ack and the payload
   * inside a 1500-byte MTU over IPv6, with room for a tunnel. */
  readonly packetBytes: number
  /** Bytes of received data we hold for the reader (in order and out of order): the
   * window we advertise. */
  readonly receiveWindow: number
  /** Bytes the application may queue beyond what is in flight before `write` says "full". */
  readonly sendBuffer: number
  /** Packets in flight at most (a power of two); also how far ahead of the next expected
   * packet we keep out-of-order ones. */
  readonly maxPackets: number
  readonly ledbat: LedbatConfig
  /** SYN retransmissions before a connect fails (timeouts 1 s, 2 s, ...). */
  readonly synRetries: number
  /** Consecutive retransmission time-outs before a connection is declared dead. */
  readonly maxTimeouts: number
}

export const DEFAULT_CONFIG: UtpConfig = {
  packetBytes: 1380,
  receiveWindow: 4 * 1024 * 1024,
  sendBuffer: 1024 * 1024,
  maxPackets: 4096,
  ledbat: DEFAULT_LEDBAT,
  synRetries: 2,
  maxTimeouts: 6
}

/** What the state machine asks of its owner; all synchronous. */
export interface UtpIo {
  /** Sends one datagram to the remote. The buffer may be sent again later (retransmission). */
  readonly send: (packet: Uint8Array) => void
  /** The handshake completed (outgoing: our SYN was acknowledged; incoming: first data). */
  readonly connected: () => void
  /** In-order data (once per burst of datagrams) or the end of the stream is ready for the reader. */
  readonly readable: () => void
  /** The send buffer has room again. */
  readonly writable: () => void
  /** The connection is over (`reason` says why); nothing more will be sent or delivered. */
  readonly closed: (reason: CloseReason) => void
}

/**
 * - `Closed`: both sides finished (or we closed and our FIN was acknowledged);
 * - `Reset`: the remote sent ST_RESET;
 * - `Refused`: our SYN was answered with ST_RESET;
 * - `TimedOut`: the remote stopped acknowledging (or never answered our SYN).
 */
export type CloseReason = "Closed" | "Reset" | "Refused" | "TimedOut"

export type Phase = "SynSent" | "SynReceived" | "Connected" | "Closed"

/** A packet we sent and may have to send again. */
export interface OutPacket {
  /** Header (and extensions) + payload; rewritten in place before a retransmission. */
  readonly buf: Uint8Array
  readonly payloadBytes: number
  /** 0 for the SYN: the handshake has no payload but is sequenced and retransmitted. */
  sentAt: number
  transmissions: number
  /** Counted in `inFlight` (false once it was declared lost and awaits its resend). */
  inFlight: boolean
  readonly type: number
}

export interface UtpConn {
  readonly config: UtpConfig
  phase: Phase
  readonly recvId: number
  readonly sendId: number

  // ---- sending
  /** Sequence number of the next packet we send. */
  seqNr: number
  /** Highest sequence number the remote acknowledged cumulatively. */
  ackedSeq: number
  /** Ring of unacknowledged packets, indexed by seq & (outgoing.length - 1); grows by
   * doubling up to `maxPackets` (a power of two). */
  outgoing: Array<OutPacket | undefined>
  inFlight: number
  /** Application bytes not yet packetized, oldest first (views, never copied until packetized). */
  readonly pending: Array<Uint8Array>
  pendingHead: number
  pendingOffset: number
  pendingBytes: number
  /** The remote's advertised receive window. */
  peerWindow: number
  readonly ledbat: Ledbat
  duplicateAcks: number
  /** Highest seq we fast-retransmitted for: one fast retransmit per hole. */
  fastResendSeq: number
  rttMs: number
  rttVarMs: number
  rtoMs: number
  /** When the retransmission timer fires (ms); Infinity when nothing is outstanding. */
  timeoutAt: number
  consecutiveTimeouts: number
  /** The writer was told the buffer is full and waits for `writable`. */
  writerWaiting: boolean
  /** close() was called: send FIN once everything pending is out. */
  closing: boolean
  /** Sequence number of our FIN once sent. */
  finSeq: number | undefined

  // ---- receiving
  /** Last sequence number received in order. */
  ackNr: number
  /** Out-of-order payloads by sequence number (rare: only after a loss or reordering). */
  readonly reorder: Map<number, Uint8Array>
  reorderBytes: number
  /** In-order data the reader has not taken yet. */
  readonly inbox: Array<Uint8Array>
  inboxHead: number
  inboxBytes: number
  /** Sequence number of the remote's FIN, once seen. */
  eofSeq: number | undefined
  /** Every byte up to the remote's FIN was delivered to the inbox. */
  eofReached: boolean
  /** An acknowledgement is owed (sent at the end of the current burst of datagrams). */
  ackPending: boolean
  /** In-order data arrived in this burst: the reader hears of it once, at the burst's end. */
  readablePending: boolean
  /** The window we last advertised: a reader freeing a closed window sends an update. */
  advertisedWindow: number
  /** `timestamp_difference_microseconds` to put in our packets. */
  replyMicros: number
  closeReason: CloseReason | undefined
  readonly counters: UtpCounters
}

/** What happened on a connection, for statistics and diagnosis. */
export interface UtpCounters {
  packetsSent: number
  packetsResent: number
  timeouts: number
  fastResends: number
  packetsReceived: number
  duplicatesReceived: number
  /** Data packets dropped because the reader's buffer was full. */
  overflowDrops: number
}

const INITIAL_RING = 64

export interface ConnIds {
  readonly recvId: number
  readonly sendId: number
  /** Our first sequence number. */
  readonly seqNr: number
}

export const makeConn = (config: UtpConfig, ids: ConnIds, phase: Phase, nowMs: number): UtpConn => ({
  config,
  phase,
  recvId: ids.recvId,
  sendId: ids.sendId,
  seqNr: ids.seqNr,
  ackedSeq: (ids.seqNr - 1) & 0xffff,
  outgoing: new Array<OutPacket | undefined>(INITIAL_RING).fill(undefined),
  inFlight: 0,
  pending: [],
  pendingHead: 0,
  pendingOffset: 0,
  pendingBytes: 0,
  peerWindow: config.packetBytes,
  ledbat: makeLedbat(config.ledbat, nowMs),
  duplicateAcks: 0,
  fastResendSeq: (ids.seqNr - 1) & 0xffff,
  rttMs: 0,
  rttVarMs: 0,
  rtoMs: 1000,
  timeoutAt: Infinity,
  consecutiveTimeouts: 0,
  writerWaiting: false,
  closing: false,
  finSeq: undefined,
  ackNr: 0,
  reorder: new Map(),
  reorderBytes: 0,
  inbox: [],
  inboxHead: 0,
  inboxBytes: 0,
  eofSeq: undefined,
  eofReached: false,
  ackPending: false,
  readablePending: false,
  advertisedWindow: config.receiveWindow,
  replyMicros: 0,
  closeReason: undefined,
  counters: { packetsSent: 0, packetsResent: 0, timeouts: 0, fastResends: 0, packetsReceived: 0, duplicatesReceived: 0, overflowDrops: 0 }
})

/** Our receive window now: what is left of the buffer for the reader. */
export const receiveWindow = (c: UtpConn): number => Math.max(0, c.config.receiveWindow - c.inboxBytes - c.reorderBytes)
