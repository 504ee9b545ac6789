/**
 * The receiving half of a uTP connection (pure): in-order delivery into the reader's
 * inbox, out-of-order packets kept until the hole fills, the remote's FIN (the end of the
 * stream once everything before it arrived), and the receive window that pushes back on
 * the sender while the reader does not keep up.
 */
import { seqAdd, seqDiff } from "./codec.ts"
import { receiveWindow, type UtpConn, type UtpIo } from "./state.ts"
import { sendState } from "./sender.ts"

/**
 * Room beyond the advertised window for packets already on their way when it closed, and
 * for the one packet a sender may push into an empty pipe to probe a zero window.
 */
const windowSlack = (c: UtpConn): number => 4 * c.config.packetBytes

/** Moves packets that became in order from the reorder buffer, and notes the FIN's turn. */
const advance = (c: UtpConn): void => {
  for (;;) {
    const next = seqAdd(c.ackNr, 1)
    const payload = c.reorder.get(next)
    if (payload !== undefined) {
      c.reorder.delete(next)
      c.reorderBytes -= payload.length
      c.inbox.push(payload)
      c.inboxBytes += payload.length
      c.ackNr = next
      continue
    }
    if (c.eofSeq !== undefined && next === c.eofSeq) {
      c.ackNr = next
      c.eofReached = true
    }
    return
  }
}

/** An ST_DATA payload with sequence number `seq`. */
export const onData = (c: UtpConn, io: UtpIo, seq: number, payload: Uint8Array): void => {
  c.ackPending = true
  if (payload.length === 0 || c.eofReached) return
  const ahead = seqDiff(seq, c.ackNr)
  // a duplicate (ack it again), or further ahead than we ever keep
  if (ahead <= 0 || ahead > c.config.maxPackets) {
    c.counters.duplicatesReceived++
    return
  }
  if (c.eofSeq !== undefined && seqDiff(seq, c.eofSeq) >= 0) return
  if (c.inboxBytes + c.reorderBytes + payload.length > c.config.receiveWindow + windowSlack(c)) {
    c.counters.overflowDrops++
    return
  }
  if (ahead === 1) {
    c.inbox.push(payload)
    c.inboxBytes += payload.length
    c.ackNr = seq
    advance(c)
    // told at the end of the burst (connection.ts burstEnd): the reader then takes the
    // whole burst in one go instead of one packet at a time
    c.readablePending = true
  } else if (!c.reorder.has(seq)) {
    c.reorder.set(seq, payload)
    c.reorderBytes += payload.length
  } else {
    c.counters.duplicatesReceived++
  }
}

/** The remote's ST_FIN: nothing after `seq` will come. */
export const onFin = (c: UtpConn, io: UtpIo, seq: number): void => {
  c.ackPending = true
  if (c.eofSeq !== undefined) return
  if (seqDiff(seq, c.ackNr) <= 0) return
  c.eofSeq = seq
  // packets kept past the FIN are bogus
  for (const [s, payload] of c.reorder) {
    if (seqDiff(s, seq) >= 0) {
      c.reorder.delete(s)
      c.reorderBytes -= payload.length
    }
  }
  advance(c)
  if (c.eofReached) io.readable()
}

/** The next chunk for the reader, if any. */
export const take = (c: UtpConn): Uint8Array | undefined => {
  if (c.inboxHead >= c.inbox.length) return undefined
  const chunk = c.inbox[c.inboxHead]
  c.inbox[c.inboxHead++] = EMPTY
  if (c.inboxHead === c.inbox.length) {
    c.inbox.length = 0
    c.inboxHead = 0
  }
  if (chunk !== undefined) c.inboxBytes -= chunk.length
  return chunk
}

const EMPTY = new Uint8Array(0)

/** Whether the reader has everything: data taken and the end of the stream reached. */
export const drainedToEnd = (c: UtpConn): boolean => c.eofReached && c.inboxHead >= c.inbox.length

/**
 * The reader took data: when the window we last advertised was nearly closed and is open
 * again, tell the sender at once (it would otherwise wait for a time-out to probe).
 */
export const afterRead = (c: UtpConn, io: UtpIo, now: number): void => {
  if (c.phase !== "Connected") return
  const wnd = receiveWindow(c)
  if (c.advertisedWindow < 2 * c.config.packetBytes && wnd >= c.config.receiveWindow / 4) sendState(c, io, now)
}
