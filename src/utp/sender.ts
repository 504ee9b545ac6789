/**
 * The sending half of a uTP connection (pure): packetizing what the application wrote,
 * the window (LEDBAT's `cwnd` and the remote's advertised window), acknowledgements
 * (cumulative and selective), round-trip time and the retransmission time-out (BEP 29:
 * `rtt + 4·rtt_var`, at least 500 ms, 1 s at first, doubling on each consecutive
 * time-out), and fast retransmission after 3 duplicate acks or 3 packets selectively
 * acknowledged past a hole. Times are microseconds.
 */
import {
  HEADER_SIZE,
  type PacketHeader,
  sackHas,
  seqAdd,
  seqDiff,
  ST_DATA,
  ST_FIN,
  ST_STATE,
  ST_SYN,
  writeHeader,
  writeU32
} from "./codec.ts"
import * as Ledbat from "./ledbat.ts"
import { type OutPacket, receiveWindow, type UtpConn, type UtpIo } from "./state.ts"

const MIN_RTO_MS = 500
const DUPLICATE_ACKS = 3
/** Largest selective ack we send (bits for 256 packets past the hole). */
const MAX_SACK_BYTES = 32

/** Packets sent and not acknowledged (including the SYN and FIN). */
export const outstanding = (c: UtpConn): number => seqDiff(c.seqNr, seqAdd(c.ackedSeq, 1))

const slot = (c: UtpConn, seq: number): number => seq & (c.outgoing.length - 1)

/** Room for one more packet in the ring, growing it (doubling) up to `maxPackets`. */
const ringHasRoom = (c: UtpConn): boolean => {
  const used = outstanding(c)
  if (used < c.outgoing.length) return true
  if (c.outgoing.length >= c.config.maxPackets) return false
  const grown = new Array<OutPacket | undefined>(c.outgoing.length * 2).fill(undefined)
  for (let i = 0, seq = seqAdd(c.ackedSeq, 1); i < used; i++, seq = seqAdd(seq, 1)) {
    grown[seq & (grown.length - 1)] = c.outgoing[slot(c, seq)]
  }
  c.outgoing = grown
  return true
}

/** Rewrites the fields that change between transmissions, then hands the packet over. */
const transmit = (c: UtpConn, io: UtpIo, p: OutPacket, now: number): void => {
  const wnd = receiveWindow(c)
  writeU32(p.buf, 4, now >>> 0)
  writeU32(p.buf, 8, c.replyMicros)
  writeU32(p.buf, 12, wnd)
  p.buf[18] = c.ackNr >>> 8
  p.buf[19] = c.ackNr & 0xff
  c.advertisedWindow = wnd
  // the ack rides along, unless a selective ack must go out too (only ST_STATE has one)
  if (c.reorder.size === 0) c.ackPending = false
  if (c.timeoutAt === Infinity) c.timeoutAt = now / 1000 + c.rtoMs
  p.sentAt = now
  if (p.transmissions > 0) c.counters.packetsResent++
  c.counters.packetsSent++
  p.transmissions++
  if (!p.inFlight) {
    p.inFlight = true
    c.inFlight += p.payloadBytes
  }
  io.send(p.buf)
}

const newPacket = (c: UtpConn, type: number, payloadBytes: number): OutPacket => {
  const buf = Buffer.allocUnsafe(HEADER_SIZE + payloadBytes)
  writeHeader(buf, 0, {
    type,
    connectionId: type === ST_SYN ? c.recvId : c.sendId,
    timestamp: 0,
    timestampDiff: 0,
    wndSize: 0,
    seqNr: c.seqNr,
    ackNr: 0
  }, 0)
  const p: OutPacket = { buf, payloadBytes, sentAt: 0, transmissions: 0, inFlight: false, type }
  c.outgoing[slot(c, c.seqNr)] = p
  c.seqNr = seqAdd(c.seqNr, 1)
  return p
}

/** The SYN that opens an outgoing connection. */
export const sendSyn = (c: UtpConn, io: UtpIo, now: number): void => {
  transmit(c, io, newPacket(c, ST_SYN, 0), now)
}

/** Copies `n` pending application bytes into `into` at `at` and drops them from the queue. */
const takePending = (c: UtpConn, into: Uint8Array, at: number, n: number): void => {
  let left = n
  while (left > 0) {
    const chunk = c.pending[c.pendingHead]
    if (chunk === undefined) break
    const available = chunk.length - c.pendingOffset
    const take = Math.min(available, left)
    into.set(chunk.subarray(c.pendingOffset, c.pendingOffset + take), at)
    at += take
    left -= take
    if (take === available) {
      c.pending[c.pendingHead++] = EMPTY
      c.pendingOffset = 0
    } else {
      c.pendingOffset += take
    }
  }
  if (c.pendingHead === c.pending.length) {
    c.pending.length = 0
    c.pendingHead = 0
  }
  c.pendingBytes -= n
}

const EMPTY = new Uint8Array(0)

const sendWindow = (c: UtpConn): number => Math.min(c.ledbat.cwnd, c.peerWindow)

/**
 * May a packet of `bytes` go out now? Within the congestion window and the remote's
 * receive window. A closed receive window is not pushed into: the remote would have to
 * drop what does not fit, and only a time-out would bring that packet back; the
 * retransmission timer probes it instead (`onTimeout`).
 */
const fits = (c: UtpConn, bytes: number): boolean => c.inFlight + bytes <= sendWindow(c)

/** Packetizes and sends the next `packetBytes` (or fewer) of what the application wrote. */
const sendNewData = (c: UtpConn, io: UtpIo, now: number): void => {
  const size = Math.min(c.config.packetBytes, c.pendingBytes)
  const p = newPacket(c, ST_DATA, size)
  takePending(c, p.buf, HEADER_SIZE, size)
  transmit(c, io, p, now)
}

/**
 * Sends what the window allows: packets declared lost first, then new data, then the FIN
 * once everything written is out. Tells a waiting writer when the buffer has room.
 */
export const flushSends = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.phase !== "Connected" && c.phase !== "SynReceived") return
  // lost packets, oldest first
  if (c.inFlight < c.ledbat.cwnd) {
    const n = outstanding(c)
    for (let i = 0, seq = seqAdd(c.ackedSeq, 1); i < n; i++, seq = seqAdd(seq, 1)) {
      const p = c.outgoing[slot(c, seq)]
      if (p === undefined || p.inFlight) continue
      if (!fits(c, p.payloadBytes)) return
      transmit(c, io, p, now)
    }
  }
  while (c.pendingBytes > 0 && fits(c, Math.min(c.config.packetBytes, c.pendingBytes)) && ringHasRoom(c)) sendNewData(c, io, now)
  // data waits on a closed window with nothing outstanding: probe it after a time-out (the
  // remote's window update may have been lost)
  if (c.pendingBytes > 0 && c.timeoutAt === Infinity) c.timeoutAt = now / 1000 + c.rtoMs
  if (c.writerWaiting && c.pendingBytes < c.config.sendBuffer) {
    c.writerWaiting = false
    io.writable()
  }
  if (c.closing && c.finSeq === undefined && c.pendingBytes === 0 && ringHasRoom(c)) {
    c.finSeq = c.seqNr
    transmit(c, io, newPacket(c, ST_FIN, 0), now)
  }
}

/** Queues application bytes (by reference) and sends what fits; false when the buffer is full. */
export const write = (c: UtpConn, io: UtpIo, chunks: ReadonlyArray<Uint8Array>, now: number): boolean => {
  for (const chunk of chunks) {
    if (chunk.length === 0) continue
    c.pending.push(chunk)
    c.pendingBytes += chunk.length
  }
  flushSends(c, io, now)
  if (c.pendingBytes < c.config.sendBuffer) return true
  c.writerWaiting = true
  return false
}

/** An ST_STATE: acknowledges what we received, with a selective ack past a hole. */
export const sendState = (c: UtpConn, io: UtpIo, now: number): void => {
  let sackBytes = 0
  let highest = -1
  if (c.reorder.size > 0) {
    for (const seq of c.reorder.keys()) {
      const bit = seqDiff(seq, c.ackNr) - 2
      if (bit > highest && bit < MAX_SACK_BYTES * 8) highest = bit
    }
    if (highest >= 0) sackBytes = (((highest >> 5) + 1) * 4)
  }
  const buf = Buffer.allocUnsafe(HEADER_SIZE + (sackBytes > 0 ? 2 + sackBytes : 0))
  const wnd = receiveWindow(c)
  writeHeader(buf, 0, {
    type: ST_STATE,
    connectionId: c.sendId,
    timestamp: now >>> 0,
    timestampDiff: c.replyMicros,
    wndSize: wnd,
    // the next sequence number; after our FIN, the FIN's own (libtorrent drops packets
    // numbered past a FIN, and does not count the FIN as taking a number)
    seqNr: c.finSeq ?? c.seqNr,
    ackNr: c.ackNr
  }, sackBytes > 0 ? 1 : 0)
  if (sackBytes > 0) {
    buf[HEADER_SIZE] = 0
    buf[HEADER_SIZE + 1] = sackBytes
    buf.fill(0, HEADER_SIZE + 2)
    for (const seq of c.reorder.keys()) {
      const bit = seqDiff(seq, c.ackNr) - 2
      const at = HEADER_SIZE + 2 + (bit >> 3)
      if (bit >= 0 && bit < sackBytes * 8) buf[at] = (buf[at] ?? 0) | (1 << (bit & 7))
    }
  }
  c.advertisedWindow = wnd
  c.ackPending = false
  io.send(buf)
}

const sampleRtt = (c: UtpConn, sampleMs: number): void => {
  if (c.rttMs === 0 && c.rttVarMs === 0) {
    c.rttMs = sampleMs
    c.rttVarMs = sampleMs / 2
  } else {
    const delta = c.rttMs - sampleMs
    c.rttVarMs += (Math.abs(delta) - c.rttVarMs) / 4
    c.rttMs += (sampleMs - c.rttMs) / 8
  }
  c.rtoMs = Math.max(c.rttMs + 4 * c.rttVarMs, MIN_RTO_MS)
}

/** Drops an acknowledged packet; returns its payload bytes that were still in flight. */
const acknowledge = (c: UtpConn, seq: number, now: number): number => {
  const i = slot(c, seq)
  const p = c.outgoing[i]
  if (p === undefined) return 0
  c.outgoing[i] = undefined
  // Karn: a retransmitted packet's ack does not say which transmission arrived
  if (p.transmissions === 1) sampleRtt(c, (now - p.sentAt) / 1000)
  if (!p.inFlight) return 0
  c.inFlight -= p.payloadBytes
  return p.payloadBytes
}

/** Declares a packet lost: out of the flight size, to be sent again by `flushSends`. */
const lose = (c: UtpConn, seq: number): boolean => {
  const p = c.outgoing[slot(c, seq)]
  if (p === undefined || !p.inFlight || p.transmissions > 1) return false
  p.inFlight = false
  c.inFlight -= p.payloadBytes
  c.counters.fastResends++
  return true
}

/**
 * The acknowledgement fields of any packet from the remote: `ack_nr`, the selective ack,
 * the advertised window and the delay it measured. Returns whether anything new was acked.
 */
export const onAck = (c: UtpConn, h: PacketHeader, now: number): boolean => {
  const nowMs = now / 1000
  const lastSent = seqAdd(c.seqNr, -1)
  // an ack for a packet we never sent is forged or broken: ignore it
  if (seqDiff(h.ackNr, lastSent) > 0) return false
  c.peerWindow = h.wndSize
  Ledbat.addDelaySample(c.ledbat, h.timestampDiff, nowMs)
  const inFlightBefore = c.inFlight
  const hadMoreToSend = c.pendingBytes > 0
  let acked = 0
  let progressed = false
  const newlyAcked = seqDiff(h.ackNr, c.ackedSeq)
  if (newlyAcked > 0) {
    for (let s = seqAdd(c.ackedSeq, 1), i = 0; i < newlyAcked; s = seqAdd(s, 1), i++) acked += acknowledge(c, s, now)
    c.ackedSeq = h.ackNr
    c.duplicateAcks = 0
    progressed = true
  } else if (newlyAcked === 0 && h.type === ST_STATE && outstanding(c) > 0 && h.sack === undefined) {
    c.duplicateAcks++
  }
  let lost = false
  if (newlyAcked >= 0 && h.sack !== undefined) {
    const bits = h.sack.length * 8
    let sackedAfter = 0
    // from the newest down: a packet with 3 or more acknowledged after it is lost
    for (let i = bits - 1; i >= 0; i--) {
      const seq = seqAdd(h.ackNr, 2 + i)
      if (seqDiff(seq, lastSent) > 0) continue
      if (sackHas(h.sack, i)) {
        acked += acknowledge(c, seq, now)
        sackedAfter++
      } else if (sackedAfter >= DUPLICATE_ACKS) {
        lost = lose(c, seq) || lost
      }
    }
    if (sackedAfter >= DUPLICATE_ACKS) lost = lose(c, seqAdd(h.ackNr, 1)) || lost
  }
  if (c.duplicateAcks === DUPLICATE_ACKS) lost = lose(c, seqAdd(c.ackedSeq, 1)) || lost
  if (acked > 0) {
    const windowLimited = hadMoreToSend || inFlightBefore + c.config.packetBytes > c.ledbat.cwnd
    Ledbat.onAck(c.ledbat, acked, inFlightBefore, windowLimited)
  }
  if (lost) Ledbat.onLoss(c.ledbat, nowMs, c.rttMs)
  if (progressed || acked > 0) {
    c.consecutiveTimeouts = 0
    c.timeoutAt = outstanding(c) > 0 ? nowMs + c.rtoMs : Infinity
  }
  return progressed
}

/**
 * The retransmission timer fired: everything outstanding counts as lost, the window
 * drops to one packet and the oldest packet goes out again; the time-out doubles.
 * Returns false when the connection should be given up.
 */
export const onTimeout = (c: UtpConn, io: UtpIo, now: number): boolean => {
  const nowMs = now / 1000
  // a remote whose window is closed is not failing: we are only probing it
  const probing = c.peerWindow < c.config.packetBytes && c.phase === "Connected"
  c.counters.timeouts++
  if (!probing) c.consecutiveTimeouts++
  if (c.consecutiveTimeouts > (c.phase === "SynSent" ? c.config.synRetries : c.config.maxTimeouts)) return false
  c.rtoMs = Math.min(c.rtoMs * 2, 60_000)
  // a probe of a closed window says nothing about congestion
  if (!probing) Ledbat.onTimeout(c.ledbat, nowMs)
  const n = outstanding(c)
  for (let i = 0, seq = seqAdd(c.ackedSeq, 1); i < n; i++, seq = seqAdd(seq, 1)) {
    const p = c.outgoing[slot(c, seq)]
    if (p !== undefined && p.inFlight) {
      p.inFlight = false
      c.inFlight -= p.payloadBytes
    }
  }
  c.timeoutAt = Infinity
  // the oldest first, whatever the window says; with nothing outstanding, new data probes
  // a closed window
  let sent = false
  for (let i = 0, seq = seqAdd(c.ackedSeq, 1); i < n && !sent; i++, seq = seqAdd(seq, 1)) {
    const p = c.outgoing[slot(c, seq)]
    if (p !== undefined) {
      transmit(c, io, p, now)
      sent = true
    }
  }
  if (!sent && c.pendingBytes > 0 && c.phase === "Connected" && ringHasRoom(c)) sendNewData(c, io, now)
  c.timeoutAt = nowMs + c.rtoMs
  return true
}
