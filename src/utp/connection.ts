/**
 * One uTP connection as a pure state machine (BEP 29): the handshake (ST_SYN answered by
 * ST_STATE), data both ways (receiver.ts, sender.ts), FIN and RESET, and the time-outs.
 * No IO, no clock, no randomness: the owner passes the time (microseconds, any origin)
 * and ids, and gets packets and events back through `UtpIo`. The socket multiplexer
 * (socket.ts) runs it on real or simulated UDP; tests run it alone.
 *
 * **When to use**
 *
 * `openOutgoing` / `acceptSyn` to create one, `receive` for every packet addressed to it,
 * `burstEnd` after each burst of datagrams (the acknowledgement goes out then, one per
 * burst), `tick` now and then for the retransmission timer, `write` / `take` / `close`
 * for the application.
 *
 * **Details**
 *
 * Sequence numbers: the SYN takes one, each DATA packet and the FIN take one, STATE
 * packets carry the next one without taking it (as libtorrent and libutp do). The
 * acceptor answers the SYN with an ST_STATE whose seq_nr is its first data sequence
 * number, so the initiator's ack_nr starts one below it.
 */
import { type PacketHeader, seqAdd, seqDiff, ST_DATA, ST_FIN, ST_RESET, ST_STATE, ST_SYN, writeHeader } from "./codec.ts"
import { afterRead, drainedToEnd, onData, onFin, take } from "./receiver.ts"
import * as Sender from "./sender.ts"
import { type CloseReason, type ConnIds, makeConn, type UtpConfig, type UtpConn, type UtpIo } from "./state.ts"

export { take, drainedToEnd }

const finish = (c: UtpConn, io: UtpIo, reason: CloseReason): void => {
  if (c.phase === "Closed") return
  c.phase = "Closed"
  c.closeReason = reason
  c.timeoutAt = Infinity
  c.outgoing.fill(undefined)
  c.pending.length = 0
  c.pendingBytes = 0
  c.reorder.clear()
  c.reorderBytes = 0
  io.closed(reason)
}

/** Starts an outgoing connection: sends the SYN (`ids.recvId` is the id we listen on). */
export const openOutgoing = (config: UtpConfig, ids: ConnIds, io: UtpIo, now: number): UtpConn => {
  const c = makeConn(config, ids, "SynSent", now / 1000)
  Sender.sendSyn(c, io, now)
  return c
}

/**
 * Answers a SYN: the new connection sends with the SYN's id and receives on id + 1; `seqNr`
 * (random) is our first sequence number. Stays `SynReceived` until the first data.
 */
export const acceptSyn = (config: UtpConfig, syn: PacketHeader, seqNr: number, io: UtpIo, now: number): UtpConn => {
  const c = makeConn(config, { recvId: (syn.connectionId + 1) & 0xffff, sendId: syn.connectionId, seqNr }, "SynReceived", now / 1000)
  c.ackNr = syn.seqNr
  c.peerWindow = syn.wndSize
  c.replyMicros = ((now >>> 0) - syn.timestamp) >>> 0
  Sender.sendState(c, io, now)
  return c
}

/** The remote sent its SYN again (our answer was lost): answer again. */
export const onRepeatedSyn = (c: UtpConn, io: UtpIo, syn: PacketHeader, now: number): void => {
  if (c.phase === "Closed" || syn.seqNr !== c.ackNr) return
  Sender.sendState(c, io, now)
}

/** A packet for this connection (its id already matched). */
export const receive = (c: UtpConn, h: PacketHeader, datagram: Uint8Array, io: UtpIo, now: number): void => {
  if (c.phase === "Closed") return
  c.counters.packetsReceived++
  if (h.type === ST_RESET) return finish(c, io, c.phase === "SynSent" ? "Refused" : "Reset")
  if (h.type === ST_SYN) return onRepeatedSyn(c, io, h, now)
  if (c.phase === "SynSent") {
    // only the answer to our SYN (an ST_STATE, or data straight away) moves us on
    if ((h.type !== ST_STATE && h.type !== ST_DATA) || h.ackNr !== seqAdd(c.ackedSeq, 1)) return
    c.phase = "Connected"
    c.ackNr = seqAdd(h.seqNr, -1)
    io.connected()
  }
  c.replyMicros = ((now >>> 0) - h.timestamp) >>> 0
  Sender.onAck(c, h, now)
  if (h.type === ST_DATA) {
    if (c.phase === "SynReceived") {
      c.phase = "Connected"
      io.connected()
    }
    onData(c, io, h.seqNr, datagram.subarray(h.payloadOffset))
    // closed locally: nobody reads any more, keep acknowledging and drop the data
    if (c.closing) while (take(c) !== undefined);
  } else if (h.type === ST_FIN) {
    onFin(c, io, h.seqNr)
  }
  if (c.finSeq !== undefined && seqDiff(c.ackedSeq, c.finSeq) >= 0) {
    // our FIN is acknowledged: done, after acknowledging what this packet brought (the
    // remote's own FIN, say: unacknowledged, it would retransmit it until it times out)
    if (c.ackPending) Sender.sendState(c, io, now)
    return finish(c, io, "Closed")
  }
  Sender.flushSends(c, io, now)
}

/** The end of a burst of datagrams: send the acknowledgement owed, if any. */
export const burstEnd = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.readablePending) {
    c.readablePending = false
    // before the ack: what the reader takes now reopens the window that ack advertises
    if (c.phase !== "Closed") io.readable()
  }
  if (c.ackPending && c.phase !== "Closed" && c.phase !== "SynSent") Sender.sendState(c, io, now)
}

/** Runs the retransmission timer; call it every few tens of milliseconds. */
export const tick = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.phase === "Closed" || now / 1000 < c.timeoutAt) return
  if (!Sender.onTimeout(c, io, now)) finish(c, io, "TimedOut")
}

/** Application data; false when the send buffer is full (wait for `UtpIo.writable`). */
export const write = (c: UtpConn, io: UtpIo, chunks: ReadonlyArray<Uint8Array>, now: number): boolean => {
  if (c.phase === "Closed" || c.closing) return false
  return Sender.write(c, io, chunks, now)
}

/** The reader took data: reopen the window if it was closed. */
export const readDone = (c: UtpConn, io: UtpIo, now: number): void => afterRead(c, io, now)

/**
 * Graceful close: what was written still goes out, then a FIN; the connection is over
 * once the FIN is acknowledged (or the retransmission time-outs give up). Data arriving
 * meanwhile is acknowledged and dropped.
 */
export const close = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.phase === "Closed" || c.closing) return
  if (c.phase === "SynSent") return finish(c, io, "Closed")
  c.closing = true
  while (take(c) !== undefined);
  Sender.flushSends(c, io, now)
}

/** Ends the connection at once, telling the remote with an ST_RESET. */
export const abort = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.phase === "Closed") return
  if (c.phase !== "SynSent") io.send(resetPacket(c.sendId, c.seqNr, c.ackNr, now))
  finish(c, io, "Closed")
}

/** An ST_RESET to `connectionId` (also the answer to packets for connections we do not know). */
export const resetPacket = (connectionId: number, seqNr: number, ackNr: number, now: number): Uint8Array => {
  const buf = Buffer.allocUnsafe(20)
  writeHeader(buf, 0, { type: ST_RESET, connectionId, timestamp: now >>> 0, timestampDiff: 0, wndSize: 0, seqNr, ackNr }, 0)
  return buf
}

export type { CloseReason, UtpConfig, UtpConn, UtpIo } from "./state.ts"
export { DEFAULT_CONFIG } from "./state.ts"
