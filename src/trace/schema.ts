/**
 * The trace format: one JSON object per line, the same for a real run (`download --trace`,
 * `seed --trace`, the daemon's per-torrent switch) and a simulated one (`simulate --trace`).
 * docs/TRACE.md describes every field; this Schema is the authority.
 *
 * When to use: to decode a trace line (`decodeTraceLine`), or to type the events a
 * recorder writes (`TraceEvent`).
 *
 * Details: a line is `{ t, host?, peer?, dir?, ev }`.
 * - `t`: milliseconds; wall-clock (Unix epoch, µs precision) in a real run, virtual (from 0)
 *   in a simulation. Lines of one host are in time order.
 * - `host`: the client that recorded the line, in a simulation (`leecher-3`); absent in a
 *   real run (one client per file).
 * - `peer`: the remote end, on every line about one peer: its `addr` (host:port), and once
 *   known its `client` (from the peer id), `transport` ("tcp", "utp") and `encryption`.
 * - `dir`: "in" (from the peer, or a reply to us) or "out" (from us).
 * - `ev`: the event, told apart by `type`. Wire messages use the message's own tag
 *   ("Request", "Piece"...), every other event a lower-case name ("handshake", "close"...).
 *   Block payloads appear as lengths only.
 *
 * Example:
 * ```ts
 * const line = decodeTraceLine(text) // Result<TraceLine, SchemaError>
 * ```
 */
import { Schema } from "effect"
import { PeerErrorReason } from "../peer/errors.ts"

/** Bumped when a line's meaning changes; written in the `start` line. */
export const TRACE_VERSION = 1

const Int = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Str = Schema.String
const opt = Schema.optionalKey

export const TraceDirection = Schema.Literals(["in", "out"])
export type TraceDirection = typeof TraceDirection.Type

/** The remote end of a connection. */
export const TracePeer = Schema.Struct({
  addr: Str,
  client: opt(Str),
  transport: opt(Str),
  encryption: opt(Str)
})
export type TracePeer = typeof TracePeer.Type

const block = { index: Int, begin: Int, length: Int }
const hashRange = { root: Str, base: Int, index: Int, length: Int, proofLayers: Int }

// --- wire messages (dir says who sent it) -------------------------------------------------

const wire = {
  KeepAlive: Schema.Struct({ type: Schema.Literal("KeepAlive") }),
  Choke: Schema.Struct({ type: Schema.Literal("Choke") }),
  Unchoke: Schema.Struct({ type: Schema.Literal("Unchoke") }),
  Interested: Schema.Struct({ type: Schema.Literal("Interested") }),
  NotInterested: Schema.Struct({ type: Schema.Literal("NotInterested") }),
  Have: Schema.Struct({ type: Schema.Literal("Have"), index: Int }),
  /** `pieces`: how many bits are set; `length`: the payload's bytes. */
  Bitfield: Schema.Struct({ type: Schema.Literal("Bitfield"), pieces: Int, length: Int }),
  Request: Schema.Struct({ type: Schema.Literal("Request"), ...block }),
  /** `length` is the block's length (the payload itself is never traced). */
  Piece: Schema.Struct({ type: Schema.Literal("Piece"), ...block }),
  Cancel: Schema.Struct({ type: Schema.Literal("Cancel"), ...block }),
  Port: Schema.Struct({ type: Schema.Literal("Port"), port: Int }),
  Suggest: Schema.Struct({ type: Schema.Literal("Suggest"), index: Int }),
  HaveAll: Schema.Struct({ type: Schema.Literal("HaveAll") }),
  HaveNone: Schema.Struct({ type: Schema.Literal("HaveNone") }),
  Reject: Schema.Struct({ type: Schema.Literal("Reject"), ...block }),
  AllowedFast: Schema.Struct({ type: Schema.Literal("AllowedFast"), index: Int }),
  /** BEP 52: `root` the file's pieces root as hex, then the range of its merkle tree asked for. */
  HashRequest: Schema.Struct({ type: Schema.Literal("HashRequest"), ...hashRange }),
  /** `hashes`: how many 32-byte hashes came (the base layer's and the uncles). */
  Hashes: Schema.Struct({ type: Schema.Literal("Hashes"), ...hashRange, hashes: Int }),
  HashReject: Schema.Struct({ type: Schema.Literal("HashReject"), ...hashRange }),
  /**
   * BEP 10: `id` as on the wire, `name` the extension it stands for ("handshake" for id 0,
   * "ut_metadata", "ut_pex", or absent when unknown), `length` the payload's bytes. An
   * extended handshake also carries what it said: `m` (extension ids), `v`, `reqq`, `p`.
   */
  Extended: Schema.Struct({
    type: Schema.Literal("Extended"),
    id: Int,
    name: opt(Str),
    length: Int,
    m: opt(Schema.Record(Str, Int)),
    v: opt(Str),
    reqq: opt(Int),
    p: opt(Int)
  })
}

export const WIRE_MESSAGE_TYPES = Object.keys(wire) as ReadonlyArray<keyof typeof wire>

// --- connections ---------------------------------------------------------------------------

/** We dial the peer (`dir` out) over `peer.transport`. */
const Connect = Schema.Struct({ type: Schema.Literal("connect") })
/** The peer connected to us (`dir` in). */
const Accept = Schema.Struct({ type: Schema.Literal("accept") })
/**
 * BEP 3 handshake, `dir` in (the peer's) or out (ours): the peer id as hex, the reserved
 * bytes as hex, and the extensions they announce (BEP 6 fast, BEP 10 extended, BEP 5 DHT).
 */
const Handshake = Schema.Struct({
  type: Schema.Literal("handshake"),
  peerId: opt(Str),
  reserved: Str,
  fast: Schema.Boolean,
  extended: Schema.Boolean,
  dht: Schema.Boolean
})
/** MSE/PE (BEP 8-ish): what the encrypted handshake chose. */
const Mse = Schema.Struct({
  type: Schema.Literal("mse"),
  /** "rc4" or "plaintext-negotiated" (MSE settled on plaintext); `role` "initiator" or "responder". */
  method: Str,
  role: opt(Str)
})
/**
 * The connection ended (or a dial failed) with its typed reason (`PeerError` reasons:
 * Protocol, Handshake, Timeout, Banned, Network, Shutdown) and the detail.
 */
const Close = Schema.Struct({ type: Schema.Literal("close"), reason: PeerErrorReason, detail: Str })

// --- pieces, choking, the swarm --------------------------------------------------------------

/** A piece passed its hash check; `from`: the peers whose blocks made it. */
const PieceVerified = Schema.Struct({ type: Schema.Literal("piece-verified"), index: Int, from: Schema.Array(Str) })
/** A piece failed its hash check; `from`: the peers whose blocks made it (the smart ban judges them once it verifies). */
const PieceFailed = Schema.Struct({ type: Schema.Literal("piece-failed"), index: Int, from: Schema.Array(Str) })
/** A choker round: the peers unchoked after it (`optimistic` among them, if any). */
const Rechoke = Schema.Struct({ type: Schema.Literal("rechoke"), unchoked: Schema.Array(Str), optimistic: opt(Str) })
/** The peer is banned (hash failures traced to it). */
const Ban = Schema.Struct({ type: Schema.Literal("ban"), detail: Str })
/** Every wanted piece is verified. */
const Complete = Schema.Struct({ type: Schema.Literal("complete") })
/** The torrent stopped with an error (storage). */
const ErrorEvent = Schema.Struct({ type: Schema.Literal("error"), detail: Str })

// --- trackers and the DHT --------------------------------------------------------------------

/** An announce (`dir` out): its URL and event ("started", "completed", "stopped", or none). */
const TrackerRequest = Schema.Struct({ type: Schema.Literal("tracker-request"), url: Str, event: opt(Str) })
/** The tracker's answer (`dir` in): peers and interval, or the failure. */
const TrackerReply = Schema.Struct({
  type: Schema.Literal("tracker-reply"),
  url: Str,
  peers: opt(Int),
  interval: opt(Int),
  error: opt(Str)
})
/** A DHT lookup or announce for the torrent (`dir` out). */
const DhtRequest = Schema.Struct({ type: Schema.Literal("dht-request"), method: Str })
/** Its result (`dir` in): peers found, or the failure. */
const DhtReply = Schema.Struct({ type: Schema.Literal("dht-reply"), method: Str, peers: opt(Int), error: opt(Str) })

// --- the file ----------------------------------------------------------------------------------

/** First line of a file: what was traced, and which clock `t` is on. */
const Start = Schema.Struct({
  type: Schema.Literal("start"),
  version: Int,
  clock: Schema.Literals(["wall", "virtual"]),
  infoHash: opt(Str),
  name: opt(Str),
  pieces: opt(Int),
  pieceLength: opt(Int),
  size: opt(Int),
  /** This client (our version), in a real run. */
  client: opt(Str)
})
/** Lines the writer could not keep up with and dropped (disk too slow); never silent. */
const Dropped = Schema.Struct({ type: Schema.Literal("dropped"), lines: Int })
/**
 * Simulated network and scenario events (crash, partition, heal, restart, leave, full-copy,
 * udp-lost, listen, connect, refused, the simulated tracker's requests...): `kind` names it,
 * `data` its details.
 */
const Sim = Schema.Struct({
  type: Schema.Literal("sim"),
  kind: Str,
  data: opt(Schema.Record(Str, Schema.Union([Str, Schema.Finite, Schema.Boolean, Schema.Null])))
})

export const TraceEvent = Schema.Union([
  ...Object.values(wire),
  Connect,
  Accept,
  Handshake,
  Mse,
  Close,
  PieceVerified,
  PieceFailed,
  Rechoke,
  Ban,
  Complete,
  ErrorEvent,
  TrackerRequest,
  TrackerReply,
  DhtRequest,
  DhtReply,
  Start,
  Dropped,
  Sim
]).pipe(Schema.toTaggedUnion("type"))
export type TraceEvent = typeof TraceEvent.Type
export type TraceEventType = TraceEvent["type"]
export type WireTraceEvent = Extract<TraceEvent, { readonly type: keyof typeof wire }>

export const TraceLine = Schema.Struct({
  t: Schema.Finite,
  host: opt(Str),
  peer: opt(TracePeer),
  dir: opt(TraceDirection),
  ev: TraceEvent
})
export type TraceLine = typeof TraceLine.Type

/** Decodes one line of text (JSON) into a `TraceLine`; a key the schema does not name is an error. */
export const decodeTraceLine = Schema.decodeUnknownResult(Schema.fromJsonString(TraceLine), { onExcessProperty: "error" })
