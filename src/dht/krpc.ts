/**
 * KRPC (BEP 5): bencoded dicts over UDP. Pure encoder and a strict, bounded
 * decoder: every field is type- and length-checked, and the datagram size and
 * bencode element count are capped before anything is allocated, so a hostile
 * datagram costs at most a few kilobytes and always yields a typed error.
 */
import { Result } from "effect"
import {
  type BencodeDict,
  type BencodeValue,
  type Encodable,
  decode,
  encode,
  getBytes,
  getField,
  getInt,
  isBytes,
  isDict,
  isInt,
  isList
} from "../bencode/index.ts"
import { latin1 } from "../bytes.ts"
import { type Address, isValidPort } from "../net/index.ts"
import {
  decodeNodes,
  decodePeer,
  encodeNodes,
  encodePeer,
  type Family,
  familyOf,
  NODE6_LENGTH,
  NODE_LENGTH,
  type NodeInfo,
  PEER6_LENGTH,
  PEER_LENGTH
} from "./compact.ts"
import { KrpcDecodeError, type KrpcErrorReason } from "./errors.ts"
import { ID_LENGTH } from "./id.ts"

/** Larger datagrams are dropped unread (real DHT traffic stays well under 1.5 KiB). */
export const MAX_MESSAGE_BYTES = 4096
export const MAX_TRANSACTION_ID = 32
export const MAX_TOKEN = 64
/** Bounds the decoder's work and allocation; 4096 bytes hold at most ~600 compact peers. */
const DECODE_OPTIONS = { maxDepth: 4, maxElements: 1024 } as const

export const ErrorCode = {
  Generic: 201,
  Server: 202,
  Protocol: 203,
  MethodUnknown: 204
} as const

/** BEP 32 `want`: which node lists ("n4" = `nodes`, "n6" = `nodes6`) the answer should carry. */
export type Want = "n4" | "n6"

export type QueryBody =
  | { readonly method: "ping" }
  | { readonly method: "find_node"; readonly target: Uint8Array; readonly want?: ReadonlyArray<Want> }
  | { readonly method: "get_peers"; readonly infoHash: Uint8Array; readonly want?: ReadonlyArray<Want> }
  | {
    readonly method: "announce_peer"
    readonly infoHash: Uint8Array
    readonly port: number
    /** BEP 5 implied_port: the peer's port is the datagram's source port. */
    readonly impliedPort: boolean
    readonly token: Uint8Array
  }

export type Method = QueryBody["method"]

export interface KrpcQuery {
  readonly _tag: "Query"
  readonly t: Uint8Array
  readonly id: Uint8Array
  readonly body: QueryBody
  /** BEP 43: the sender does not want to be added to routing tables. */
  readonly readOnly: boolean
}

export interface KrpcResponse {
  readonly _tag: "Response"
  readonly t: Uint8Array
  readonly id: Uint8Array
  readonly nodes: ReadonlyArray<NodeInfo>
  /** BEP 32: IPv6 nodes (38-byte compact entries). */
  readonly nodes6: ReadonlyArray<NodeInfo>
  /** Peers, IPv4 (6-byte) and IPv6 (18-byte) entries alike (BEP 32: parse hybrid lists). */
  readonly values: ReadonlyArray<Address>
  readonly token: Uint8Array | undefined
}

export interface KrpcError {
  readonly _tag: "Error"
  readonly t: Uint8Array
  readonly code: number
  readonly message: string
}

export type KrpcMessage = KrpcQuery | KrpcResponse | KrpcError

const VERSION = new Uint8Array([0x45, 0x54, 0x00, 0x01]) // "ET" 0.1

// ---- encoding -------------------------------------------------------------

export const encodeQuery = (t: Uint8Array, id: Uint8Array, body: QueryBody): Uint8Array => {
  const a: Record<string, Encodable> = { id }
  switch (body.method) {
    case "ping":
      break
    case "find_node":
      a.target = body.target
      if (body.want !== undefined) a.want = body.want
      break
    case "get_peers":
      a.info_hash = body.infoHash
      if (body.want !== undefined) a.want = body.want
      break
    case "announce_peer":
      a.info_hash = body.infoHash
      a.port = body.port
      a.token = body.token
      if (body.impliedPort) a.implied_port = 1
      break
  }
  return encode({ t, y: "q", q: body.method, a, v: VERSION })
}

export interface ResponseFields {
  readonly nodes?: ReadonlyArray<NodeInfo>
  readonly nodes6?: ReadonlyArray<NodeInfo>
  /** Each in its own family's compact form (the server sends one family per answer). */
  readonly values?: ReadonlyArray<Address>
  readonly token?: Uint8Array
}

export const encodeResponse = (t: Uint8Array, id: Uint8Array, fields: ResponseFields = {}): Uint8Array => {
  const r: Record<string, BencodeValue> = { id }
  if (fields.nodes !== undefined) r.nodes = encodeNodes(fields.nodes, 4)
  if (fields.nodes6 !== undefined) r.nodes6 = encodeNodes(fields.nodes6, 6)
  if (fields.values !== undefined) {
    const values: Array<Uint8Array> = []
    for (const v of fields.values) {
      const family = familyOf(v)
      const peer = family === undefined ? undefined : encodePeer(v, family)
      if (peer !== undefined) values.push(peer)
    }
    r.values = values
  }
  if (fields.token !== undefined) r.token = fields.token
  return encode({ t, y: "r", r, v: VERSION })
}

export const encodeError = (t: Uint8Array, code: number, message: string): Uint8Array =>
  encode({ t, y: "e", e: [code, message], v: VERSION })

// ---- decoding -------------------------------------------------------------

interface Ctx {
  readonly t: Uint8Array | undefined
  readonly isQuery: boolean
}

const fail = (ctx: Ctx, reason: KrpcErrorReason, message: string) =>
  Result.fail(
    new KrpcDecodeError({
      reason,
      message,
      isQuery: ctx.isQuery,
      ...(ctx.t === undefined ? {} : { transactionId: ctx.t })
    })
  )

type R<A> = Result.Result<A, KrpcDecodeError>

const bytesField = (ctx: Ctx, dict: BencodeDict, key: string, length?: number): R<Uint8Array> => {
  const v = getField(dict, key)
  if (v === undefined) return fail(ctx, "MissingField", `missing "${key}"`)
  if (!isBytes(v)) return fail(ctx, "WrongType", `"${key}" must be a byte string`)
  if (length !== undefined && v.length !== length) {
    return fail(ctx, "BadLength", `"${key}" must be ${length} bytes, got ${v.length}`)
  }
  return Result.succeed(v)
}

/** BEP 32 `want`: a list of strings; strings other than "n4"/"n6" are ignored (future flags). */
const decodeWant = (ctx: Ctx, raw: BencodeValue | undefined): R<{ readonly want?: ReadonlyArray<Want> }> => {
  if (raw === undefined) return Result.succeed({})
  if (!isList(raw)) return fail(ctx, "WrongType", `"want" must be a list`)
  const want: Array<Want> = []
  for (const w of raw) {
    if (!isBytes(w)) return fail(ctx, "WrongType", `"want" entries must be byte strings`)
    const flag = w.length === 2 && w[0] === 0x6e ? (w[1] === 0x34 ? "n4" : w[1] === 0x36 ? "n6" : undefined) : undefined
    if (flag !== undefined && !want.includes(flag)) want.push(flag)
  }
  return Result.succeed({ want })
}

const decodeQueryBody = (ctx: Ctx, method: string, a: BencodeDict): R<QueryBody> => {
  switch (method) {
    case "ping":
      return Result.succeed({ method: "ping" })
    case "find_node": {
      const target = bytesField(ctx, a, "target", ID_LENGTH)
      if (Result.isFailure(target)) return Result.fail(target.failure)
      return Result.map(decodeWant(ctx, getField(a, "want")), (want) => ({ method: "find_node", target: target.success, ...want }))
    }
    case "get_peers": {
      const infoHash = bytesField(ctx, a, "info_hash", ID_LENGTH)
      if (Result.isFailure(infoHash)) return Result.fail(infoHash.failure)
      return Result.map(decodeWant(ctx, getField(a, "want")), (want) => ({ method: "get_peers", infoHash: infoHash.success, ...want }))
    }
    case "announce_peer": {
      const infoHash = bytesField(ctx, a, "info_hash", ID_LENGTH)
      if (Result.isFailure(infoHash)) return Result.fail(infoHash.failure)
      const token = bytesField(ctx, a, "token")
      if (Result.isFailure(token)) return Result.fail(token.failure)
      if (token.success.length === 0 || token.success.length > MAX_TOKEN) {
        return fail(ctx, "BadLength", `"token" must be 1..${MAX_TOKEN} bytes`)
      }
      const impliedRaw = getField(a, "implied_port")
      if (impliedRaw !== undefined && !isInt(impliedRaw)) return fail(ctx, "WrongType", `"implied_port" must be an integer`)
      const impliedPort = impliedRaw !== undefined && impliedRaw !== 0
      const portRaw = getField(a, "port")
      if (portRaw !== undefined && !isInt(portRaw)) return fail(ctx, "WrongType", `"port" must be an integer`)
      if (!impliedPort && portRaw === undefined) return fail(ctx, "MissingField", `missing "port"`)
      const port = portRaw ?? 0
      if (!impliedPort && !isValidPort(port)) return fail(ctx, "BadValue", `"port" ${port} out of range`)
      return Result.succeed({
        method: "announce_peer",
        infoHash: infoHash.success,
        token: token.success,
        impliedPort,
        port: impliedPort ? 0 : port
      })
    }
    default:
      return fail(ctx, "UnknownMethod", `unknown method "${method.slice(0, 32)}"`)
  }
}

const decodeValues = (ctx: Ctx, raw: BencodeValue | undefined): R<ReadonlyArray<Address>> => {
  if (raw === undefined) return Result.succeed([])
  if (!isList(raw)) return fail(ctx, "WrongType", `"values" must be a list`)
  const out: Array<Address> = []
  for (const v of raw) {
    if (!isBytes(v)) return fail(ctx, "WrongType", `"values" entries must be byte strings`)
    // BEP 32: a list may mix 6-byte IPv4 and 18-byte IPv6 peers
    const family: Family | undefined = v.length === PEER_LENGTH ? 4 : v.length === PEER6_LENGTH ? 6 : undefined
    if (family === undefined) {
      return fail(ctx, "BadLength", `"values" entry of ${v.length} bytes (expected ${PEER_LENGTH} or ${PEER6_LENGTH})`)
    }
    const peer = decodePeer(v, 0, family)
    if (peer !== undefined) out.push(peer)
  }
  return Result.succeed(out)
}

/** `nodes` (26-byte entries) or `nodes6` (38-byte entries, BEP 32); absent is empty. */
const decodeNodeList = (ctx: Ctx, r: BencodeDict, key: "nodes" | "nodes6", family: Family): R<ReadonlyArray<NodeInfo>> => {
  const raw = getField(r, key)
  if (raw === undefined) return Result.succeed([])
  if (!isBytes(raw)) return fail(ctx, "WrongType", `"${key}" must be a byte string`)
  const width = family === 4 ? NODE_LENGTH : NODE6_LENGTH
  if (raw.length % width !== 0) return fail(ctx, "BadLength", `"${key}" length ${raw.length} is not a multiple of ${width}`)
  return Result.succeed(decodeNodes(raw, family))
}

const decodeResponseBody = (ctx: Ctx, t: Uint8Array, r: BencodeDict): R<KrpcResponse> => {
  const id = bytesField(ctx, r, "id", ID_LENGTH)
  if (Result.isFailure(id)) return Result.fail(id.failure)
  const nodes = decodeNodeList(ctx, r, "nodes", 4)
  if (Result.isFailure(nodes)) return Result.fail(nodes.failure)
  const nodes6 = decodeNodeList(ctx, r, "nodes6", 6)
  if (Result.isFailure(nodes6)) return Result.fail(nodes6.failure)
  const values = decodeValues(ctx, getField(r, "values"))
  if (Result.isFailure(values)) return Result.fail(values.failure)
  const tokenRaw = getField(r, "token")
  if (tokenRaw !== undefined && (!isBytes(tokenRaw) || tokenRaw.length > MAX_TOKEN)) {
    return fail(ctx, "BadValue", `"token" must be a byte string of at most ${MAX_TOKEN} bytes`)
  }
  return Result.succeed({
    _tag: "Response",
    t,
    id: id.success,
    nodes: nodes.success,
    nodes6: nodes6.success,
    values: values.success,
    token: tokenRaw
  })
}

/** A peer's text (a method name, an error message) as a binary string, its first 256 bytes at most. */
const peerText = (b: Uint8Array) => latin1(b, 0, Math.min(b.length, 256))

/** Decodes one datagram. Never throws. */
export const decodeMessage = (bytes: Uint8Array): R<KrpcMessage> => {
  const none: Ctx = { t: undefined, isQuery: false }
  if (bytes.length > MAX_MESSAGE_BYTES) return fail(none, "Oversized", `datagram of ${bytes.length} bytes`)
  const decoded = decode(bytes, DECODE_OPTIONS)
  if (Result.isFailure(decoded)) return fail(none, "Bencode", decoded.failure.message)
  const msg = decoded.success
  if (!isDict(msg)) return fail(none, "NotADict", "a KRPC message must be a dict")
  const y = getBytes(msg, "y")
  const isQuery = y !== undefined && y.length === 1 && y[0] === 0x71 // "q"
  const t = getBytes(msg, "t")
  if (t === undefined) return fail({ t: undefined, isQuery }, "MissingField", `missing or invalid "t"`)
  if (t.length === 0 || t.length > MAX_TRANSACTION_ID) {
    return fail({ t: undefined, isQuery }, "BadLength", `"t" must be 1..${MAX_TRANSACTION_ID} bytes`)
  }
  const ctx: Ctx = { t, isQuery }
  if (y === undefined || y.length !== 1) return fail(ctx, "MissingField", `missing or invalid "y"`)
  switch (y[0]) {
    case 0x71: { // q
      const q = getBytes(msg, "q")
      if (q === undefined) return fail(ctx, "MissingField", `missing "q"`)
      const a = getField(msg, "a")
      if (!isDict(a)) return fail(ctx, "MissingField", `missing or invalid "a"`)
      const id = bytesField(ctx, a, "id", ID_LENGTH)
      if (Result.isFailure(id)) return Result.fail(id.failure)
      const body = decodeQueryBody(ctx, peerText(q), a)
      if (Result.isFailure(body)) return Result.fail(body.failure)
      return Result.succeed({ _tag: "Query", t, id: id.success, body: body.success, readOnly: getInt(msg, "ro") === 1 })
    }
    case 0x72: { // r
      const r = getField(msg, "r")
      if (!isDict(r)) return fail(ctx, "MissingField", `missing or invalid "r"`)
      return decodeResponseBody(ctx, t, r)
    }
    case 0x65: { // e
      const e = getField(msg, "e")
      if (!isList(e)) return fail(ctx, "MissingField", `missing or invalid "e"`)
      const code = e[0]
      if (!isInt(code)) return fail(ctx, "WrongType", `error code must be an integer`)
      const text = e[1]
      return Result.succeed({ _tag: "Error", t, code, message: isBytes(text) ? peerText(text) : "" })
    }
    default:
      return fail(ctx, "UnknownType", `unknown message type "${peerText(y)}"`)
  }
}
