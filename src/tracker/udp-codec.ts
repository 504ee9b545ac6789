/**
 * UDP tracker protocol (BEP 15), pure: packet builders and parsers.
 * All integers are big-endian. Responses are matched by transaction id
 * (offset 4) before they reach these parsers.
 */
import { type Address, decodeCompactList } from "../net/index.ts"
import { readText } from "./http-codec.ts"
import type { AnnounceRequest, AnnounceResponse, ScrapeEntry } from "./types.ts"
import { MAX_PEERS_PER_RESPONSE } from "./types.ts"

export const PROTOCOL_ID = 0x41727101980n
export const ACTION_CONNECT = 0
export const ACTION_ANNOUNCE = 1
export const ACTION_SCRAPE = 2
export const ACTION_ERROR = 3
/** BEP 15: at most about 74 hashes fit one scrape packet. */
export const MAX_SCRAPE_HASHES = 74

const EVENT_CODE = { completed: 1, started: 2, stopped: 3 } as const

const u64 = (n: number): bigint => BigInt(Math.max(0, Math.floor(Number.isFinite(n) ? n : 0)))

export const connectRequest = (transactionId: number): Uint8Array => {
  const b = new Uint8Array(16)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, PROTOCOL_ID)
  v.setUint32(8, ACTION_CONNECT)
  v.setUint32(12, transactionId >>> 0)
  return b
}

export const announceRequest = (
  connectionId: bigint,
  transactionId: number,
  req: AnnounceRequest,
  key: number
): Uint8Array => {
  const b = new Uint8Array(98)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, connectionId)
  v.setUint32(8, ACTION_ANNOUNCE)
  v.setUint32(12, transactionId >>> 0)
  b.set(req.infoHash.subarray(0, 20), 16)
  b.set(req.peerId.subarray(0, 20), 36)
  v.setBigUint64(56, u64(req.downloaded))
  v.setBigUint64(64, u64(req.left))
  v.setBigUint64(72, u64(req.uploaded))
  v.setUint32(80, req.event === undefined ? 0 : EVENT_CODE[req.event])
  v.setUint32(84, 0) // IP: let the tracker use the packet's source address
  v.setUint32(88, key >>> 0)
  v.setInt32(92, req.numwant === undefined ? -1 : Math.max(0, Math.min(req.numwant, 0x7fffffff)))
  v.setUint16(96, req.port & 0xffff)
  return b
}

export const scrapeRequest = (
  connectionId: bigint,
  transactionId: number,
  infoHashes: ReadonlyArray<Uint8Array>
): Uint8Array => {
  const b = new Uint8Array(16 + 20 * infoHashes.length)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, connectionId)
  v.setUint32(8, ACTION_SCRAPE)
  v.setUint32(12, transactionId >>> 0)
  infoHashes.forEach((h, i) => b.set(h.subarray(0, 20), 16 + 20 * i))
  return b
}

/** Header of a response: action and transaction id, or undefined if too short. */
export const responseHeader = (p: Uint8Array): { action: number; transactionId: number } | undefined => {
  if (p.length < 8) return undefined
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength)
  return { action: v.getUint32(0), transactionId: v.getUint32(4) }
}

export type UdpParseError =
  | { readonly _tag: "Failure"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly detail: string }

const invalid = (detail: string): UdpParseError => ({ _tag: "Invalid", detail })

/** Shared check: an error packet (action 3) or the expected action with a minimum size. */
const expect = (p: Uint8Array, action: number, minLength: number): UdpParseError | DataView => {
  const header = responseHeader(p)
  if (header === undefined) return invalid(`response of ${p.length} bytes is too short`)
  if (header.action === ACTION_ERROR) {
    return { _tag: "Failure", reason: readText(p.subarray(8)) }
  }
  if (header.action !== action) return invalid(`expected action ${action}, got ${header.action}`)
  if (p.length < minLength) return invalid(`response of ${p.length} bytes, expected at least ${minLength}`)
  return new DataView(p.buffer, p.byteOffset, p.byteLength)
}

export const parseConnect = (p: Uint8Array): UdpParseError | { readonly connectionId: bigint } => {
  const v = expect(p, ACTION_CONNECT, 16)
  return v instanceof DataView ? { connectionId: v.getBigUint64(8) } : v
}

/**
 * `ipv6`: the request went to an IPv6 tracker address, so peers are 18 bytes
 * each (BEP 15, IPv6 section); otherwise 6.
 */
export const parseAnnounce = (p: Uint8Array, ipv6: boolean): UdpParseError | AnnounceResponse => {
  const v = expect(p, ACTION_ANNOUNCE, 20)
  if (!(v instanceof DataView)) return v
  const peers: Array<Address> = decodeCompactList(p.subarray(20), ipv6 ? 6 : 4, MAX_PEERS_PER_RESPONSE)
  return { interval: v.getUint32(8), incomplete: v.getUint32(12), complete: v.getUint32(16), peers }
}

export const parseScrape = (p: Uint8Array, infoHashes: ReadonlyArray<Uint8Array>): UdpParseError | Array<ScrapeEntry> => {
  const v = expect(p, ACTION_SCRAPE, 8)
  if (!(v instanceof DataView)) return v
  const out: Array<ScrapeEntry> = []
  infoHashes.forEach((infoHash, i) => {
    const at = 8 + 12 * i
    if (at + 12 > p.length) return
    out.push({ infoHash, complete: v.getUint32(at), downloaded: v.getUint32(at + 4), incomplete: v.getUint32(at + 8) })
  })
  return out
}
