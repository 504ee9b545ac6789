/**
 * Recording trace lines (schema.ts): a torrent's `TorrentTrace` and a session's `PeerTrace`.
 *
 * When to use: a torrent given `TorrentConfig.trace` makes one `TorrentTrace`; each of its
 * sessions asks it for a `PeerTrace`. Without a trace they hold `null`, and every hook is one
 * null check (the per-block path pays nothing else).
 *
 * Details: lines are built as text, synchronously, and handed to a `TraceSink` (a buffered
 * file, or a simulation's line list). The per-message lines are put together from a prefix
 * computed once per peer (`"host"`, `"peer"`), so a block costs a few string concatenations.
 * Every line has the shape of `TraceLine`; test/trace-schema.test.ts decodes each one.
 *
 * Example:
 * ```ts
 * const trace = makeTorrentTrace({ sink, now: () => clock.currentTimeMillisUnsafe() })
 * const peer = trace.peer("10.0.0.2:6881", "tcp")
 * peer.event("out", { type: "connect" })
 * ```
 */
import { Result } from "effect"
import { toHex } from "../bytes.ts"
import { decodeExtendedHandshake, EXTENDED_HANDSHAKE_ID } from "../wire/extended.ts"
import { supportsDht, supportsExtensionProtocol, supportsFast } from "../wire/handshake.ts"
import type { Message } from "../wire/message.ts"
import { TRACE_VERSION, type TraceDirection, type TraceEvent, type TracePeer } from "./schema.ts"

/** Where lines go: one call per complete line (no newline). */
export interface TraceSink {
  readonly write: (line: string) => void
}

/** What to trace for a torrent (`TorrentConfig.trace`, `AddOptions.trace`). */
export interface TraceTarget {
  readonly sink: TraceSink
  /** The recording client's name (a simulation's host); absent in a real run. */
  readonly host?: string
  /** Trace every wire message (default true). Off keeps connections, pieces, choking, trackers. */
  readonly messages?: boolean
  /** Trace each verified piece (default true). */
  readonly pieces?: boolean
  /** Put peer ids in `handshake` lines (default true; a simulation leaves them out: MSE's entropy varies them). */
  readonly peerIds?: boolean
  /** Which clock `t` is on (default "wall"; a simulation's is "virtual"). */
  readonly clock?: "wall" | "virtual"
}

/** The trace of one peer connection. */
export interface PeerTrace {
  /** Null when wire messages are not traced: the session then skips them with one check. */
  readonly wire: WireTrace | null
  readonly event: (dir: TraceDirection | undefined, ev: TraceEvent) => void
  /** What the handshake and the connection told us (client name, transport, encryption). */
  readonly update: (info: Partial<Omit<TracePeer, "addr">>) => void
  readonly peerIds: boolean
}

/** Wire messages of one peer, the hot path. */
export interface WireTrace {
  readonly message: (dir: TraceDirection, message: Message, extensionName?: string) => void
  /** A `piece` message sent from the upload queue (it never exists as a `Message`). */
  readonly pieceOut: (index: number, begin: number, length: number) => void
}

export interface TorrentTrace {
  readonly options: { readonly messages: boolean; readonly pieces: boolean }
  readonly now: () => number
  /** A line about no one peer (pieces, rechokes, trackers). */
  readonly event: (dir: TraceDirection | undefined, ev: TraceEvent) => void
  readonly peer: (addr: string, info?: Partial<Omit<TracePeer, "addr">>) => PeerTrace
}

const q = JSON.stringify

const blockEvent = (type: string, index: number, begin: number, length: number) =>
  `{"type":"${type}","index":${index},"begin":${begin},"length":${length}}`

/** A wire message as its trace event (payloads as lengths; an extended handshake decoded). */
export const wireEvent = (m: Message, extensionName?: string): string => {
  switch (m._tag) {
    case "Request":
    case "Cancel":
    case "Reject":
      return blockEvent(m._tag, m.index, m.begin, m.length)
    case "Piece":
      return blockEvent("Piece", m.index, m.begin, m.block.length)
    case "Have":
    case "Suggest":
    case "AllowedFast":
      return `{"type":"${m._tag}","index":${m.index}}`
    case "Bitfield": {
      let pieces = 0
      for (const byte of m.bits) for (let b = byte; b !== 0; b &= b - 1) pieces++
      return `{"type":"Bitfield","pieces":${pieces},"length":${m.bits.length}}`
    }
    case "Port":
      return `{"type":"Port","port":${m.port}}`
    case "HashRequest":
    case "HashReject":
    case "Hashes": {
      const range = `"root":"${toHex(m.piecesRoot)}","base":${m.baseLayer},"index":${m.index},"length":${m.length},"proofLayers":${m.proofLayers}`
      return m._tag === "Hashes"
        ? `{"type":"Hashes",${range},"hashes":${m.hashes.length / 32}}`
        : `{"type":"${m._tag}",${range}}`
    }
    case "Extended": {
      const ev: Extract<TraceEvent, { type: "Extended" }> = { type: "Extended", id: m.id, length: m.payload.length }
      if (m.id !== EXTENDED_HANDSHAKE_ID) return q(extensionName === undefined ? ev : { ...ev, name: extensionName })
      const hs = decodeExtendedHandshake(m.payload)
      if (Result.isFailure(hs)) return q({ ...ev, name: "handshake" })
      const { m: ids, v, reqq, p } = hs.success
      return q({
        ...ev,
        name: "handshake",
        m: ids,
        ...(v === undefined ? {} : { v }),
        ...(reqq === undefined ? {} : { reqq }),
        ...(p === undefined ? {} : { p })
      })
    }
    default:
      return `{"type":"${m._tag}"}`
  }
}

/** The JSON of a handshake's reserved bytes and peer id, as the `handshake` event. */
export const handshakeEvent = (reserved: Uint8Array, peerId: Uint8Array | undefined): TraceEvent => ({
  type: "handshake",
  ...(peerId === undefined ? {} : { peerId: toHex(peerId) }),
  reserved: toHex(reserved),
  fast: supportsFast(reserved),
  extended: supportsExtensionProtocol(reserved),
  dht: supportsDht(reserved)
})

export const makeTorrentTrace = (target: TraceTarget, now: () => number): TorrentTrace => {
  const { sink } = target
  const hostPart = target.host === undefined ? "" : `,"host":${q(target.host)}`
  const options = { messages: target.messages ?? true, pieces: target.pieces ?? true }
  const line = (prefix: string, dir: TraceDirection | undefined, ev: string) =>
    sink.write(`{"t":${now()}${prefix}${dir === undefined ? "" : `,"dir":"${dir}"`},"ev":${ev}}`)

  const peer = (addr: string, info: Partial<Omit<TracePeer, "addr">> = {}): PeerTrace => {
    let current: TracePeer = { addr, ...info }
    let prefix = `${hostPart},"peer":${q(current)}`
    const wire: WireTrace = {
      message: (dir, message, extensionName) => line(prefix, dir, wireEvent(message, extensionName)),
      pieceOut: (index, begin, length) => line(prefix, "out", blockEvent("Piece", index, begin, length))
    }
    return {
      wire: options.messages ? wire : null,
      peerIds: target.peerIds ?? true,
      event: (dir, ev) => line(prefix, dir, q(ev)),
      update: (next) => {
        current = { ...current, ...next }
        prefix = `${hostPart},"peer":${q(current)}`
      }
    }
  }

  return {
    options,
    now,
    event: (dir, ev) => line(hostPart, dir, q(ev)),
    peer
  }
}

/**
 * Milliseconds for `t`: the clock's nanoseconds to the microsecond (a request and its block on
 * loopback are often under a millisecond apart); virtual time gives whole milliseconds.
 */
export const traceMillis = (nanos: () => bigint) => (): number => Number(nanos() / 1000n) / 1000

/**
 * A connection's opening: the MSE outcome (when it was encrypted or negotiated), then the two
 * handshakes in the order they crossed the wire (ours first when we dialled), and what they
 * told us about the peer (its client, the transport, the encryption).
 */
export const traceHandshakes = (
  trace: PeerTrace,
  conn: { readonly transport?: string },
  client: string,
  ours: { readonly reserved: Uint8Array; readonly peerId: Uint8Array },
  theirs: { readonly reserved: Uint8Array; readonly peerId: Uint8Array },
  dialled: boolean,
  encryption: string
): void => {
  trace.update({ transport: conn.transport ?? "tcp", encryption })
  if (encryption !== "none") trace.event(undefined, { type: "mse", method: encryption, role: dialled ? "initiator" : "responder" })
  const out = handshakeEvent(ours.reserved, trace.peerIds ? ours.peerId : undefined)
  if (dialled) trace.event("out", out)
  trace.update({ client })
  trace.event("in", handshakeEvent(theirs.reserved, trace.peerIds ? theirs.peerId : undefined))
  if (!dialled) trace.event("out", out)
}

/** A torrent's trace, opened with its `start` line. */
export const openTorrentTrace = (
  target: TraceTarget,
  now: () => number,
  about: { readonly infoHash: string; readonly name: string; readonly pieces: number; readonly pieceLength: number; readonly size: number; readonly client: string }
): TorrentTrace => {
  const trace = makeTorrentTrace(target, now)
  trace.event(undefined, { type: "start", version: TRACE_VERSION, clock: target.clock ?? "wall", ...about })
  return trace
}

/** A choker round's outcome (`rechoke`), when there was anyone to decide about. */
export const traceRechoke = (
  trace: TorrentTrace | null,
  result: { readonly unchoke: ReadonlySet<string>; readonly optimistic: string | null },
  peers: number
): void => {
  if (trace === null || peers === 0) return
  trace.event(undefined, {
    type: "rechoke",
    unchoked: [...result.unchoke],
    ...(result.optimistic === null ? {} : { optimistic: result.optimistic })
  })
}
