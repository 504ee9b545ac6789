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
import type { Address } from "../net/index.ts"
import { decodeNodes, decodePeer, encodeNodes, encodePeer, NODE_LENGTH, type NodeInfo, PEER_LENGTH } from "./compact.ts"
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

export type QueryBody =
  | { readonly method: "ping" }
  | { readonly method: "find_node"; readonly target: Uint8Array }
  | { readonly method: "get_peers"; readonly infoHash: Uint8Array }
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
  const a: Record<string, BencodeValue> = { id }
  switch (body.method) {
    case "ping":
      break
    case "find_node":
      a.target = body.target
      break
    case "get_peers":
      a.info_hash = body.infoHash
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
  readonly values?: ReadonlyArray<Address>
  readonly token?: Uint8Array
}

export const encodeResponse = (t: Uint8Array, id: Uint8Array, fields: ResponseFields = {}): Uint8Array => {
  const r: Record<string, BencodeValue> = { id }
  if (fields.nodes !== undefined) r.nodes = encodeNodes(fields.nodes)
  if (fields.values !== undefined) {
    const values: Array<Uint8Array> = []
    for (const v of fields.values) {
      const peer = encodePeer(v)
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

const decodeQueryBody = (ctx: Ctx, method: string, a: BencodeDict): R<QueryBody> => {
  switch (method) {
    case "ping":
      return Result.succeed({ method: "ping" })
    case "find_node":
      return Result.map(bytesField(ctx, a, "target", ID_LENGTH), (target) => ({ method: "find_node", target }))
    case "get_peers":
      return Result.map(bytesField(ctx, a, "info_hash", ID_LENGTH), (infoHash) => ({ method: "get_peers", infoHash }))
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
      if (!impliedPort && (port < 1 || port > 0xffff)) return fail(ctx, "BadValue", `"port" ${port} out of range`)
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
    if (v.length === PEER_LENGTH) {
      const peer = decodePeer(v)
      if (peer !== undefined) out.push(peer)
    } else if (v.length !== 18) {
      // 18 bytes = an IPv6 peer (BEP 32): valid, but not used by this IPv4 node
      return fail(ctx, "BadLength", `"values" entry of ${v.length} bytes`)
    }
  }
  return Result.succeed(out)
}

const decodeResponseBody = (ctx: Ctx, t: Uint8Array, r: BencodeDict): R<KrpcResponse> => {
  const id = bytesField(ctx, r, "id", ID_LENGTH)
  if (Result.isFailure(id)) return Result.fail(id.failure)
  const nodesRaw = getField(r, "nodes")
  let nodes: ReadonlyArray<NodeInfo> = []
  if (nodesRaw !== undefined) {
    if (!isBytes(nodesRaw)) return fail(ctx, "WrongType", `"nodes" must be a byte string`)
    if (nodesRaw.length % NODE_LENGTH !== 0) {
      return fail(ctx, "BadLength", `"nodes" length ${nodesRaw.length} is not a multiple of ${NODE_LENGTH}`)
    }
    nodes = decodeNodes(nodesRaw)
  }
  const values = decodeValues(ctx, getField(r, "values"))
  if (Result.isFailure(values)) return Result.fail(values.failure)
  const tokenRaw = getField(r, "token")
  if (tokenRaw !== undefined && (!isBytes(tokenRaw) || tokenRaw.length > MAX_TOKEN)) {
    return fail(ctx, "BadValue", `"token" must be a byte string of at most ${MAX_TOKEN} bytes`)
  }
  return Result.succeed({ _tag: "Response", t, id: id.success, nodes, values: values.success, token: tokenRaw })
}

const latin1 = (b: Uint8Array) => {
  let s = ""
  for (let i = 0; i < b.length && i < 256; i++) s += String.fromCharCode(b[i] ?? 0)
  return s
}

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
      const body = decodeQueryBody(ctx, latin1(q), a)
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
      return Result.succeed({ _tag: "Error", t, code, message: isBytes(text) ? latin1(text) : "" })
    }
    default:
      return fail(ctx, "UnknownType", `unknown message type "${latin1(y)}"`)
  }
}
