/**
 * HTTP tracker protocol (BEP 3, 7, 23, 48), pure: query strings and response
 * parsing. Binary fields are percent-encoded byte by byte: never let a URL
 * library re-serialise the query (it would decode %ff.. as UTF-8).
 */
import { Result } from "effect"
import * as Bencode from "../bencode/index.ts"
import { type Address, decodeCompactList, ipFamily, isValidPort } from "../net/index.ts"
import { MAX_PEERS_PER_RESPONSE } from "./types.ts"
import type { AnnounceRequest, AnnounceResponse, ScrapeEntry } from "./types.ts"

const UNRESERVED = /[A-Za-z0-9.\-_~]/

/** Percent-encodes every byte except RFC 3986 unreserved characters. */
export const percentEncodeBytes = (bytes: Uint8Array): string => {
  let out = ""
  for (const b of bytes) {
    const c = String.fromCharCode(b)
    out += b < 0x80 && UNRESERVED.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`
  }
  return out
}

const textEncoder = new TextEncoder()
const uint = (n: number): string => String(Math.max(0, Math.floor(Number.isFinite(n) ? n : 0)))

/** Appends our parameters to the announce URL, keeping any query it already has (passkeys). */
export const announceUrl = (base: string, req: AnnounceRequest, trackerId: string | undefined): string => {
  const params = [
    `info_hash=${percentEncodeBytes(req.infoHash)}`,
    `peer_id=${percentEncodeBytes(req.peerId)}`,
    `port=${uint(req.port)}`,
    `uploaded=${uint(req.uploaded)}`,
    `downloaded=${uint(req.downloaded)}`,
    `left=${uint(req.left)}`,
    "compact=1"
  ]
  if (req.event !== undefined) params.push(`event=${req.event}`)
  if (req.numwant !== undefined) params.push(`numwant=${uint(req.numwant)}`)
  if (req.key !== undefined) params.push(`key=${(req.key >>> 0).toString(16).padStart(8, "0")}`)
  if (req.crypto !== undefined) params.push("supportcrypto=1")
  if (req.crypto === "required") params.push("requirecrypto=1")
  if (req.ipv6 !== undefined && ipFamily(req.ipv6) === 6) params.push(`ipv6=${encodeURIComponent(req.ipv6)}`)
  if (trackerId !== undefined) params.push(`trackerid=${percentEncodeBytes(textEncoder.encode(trackerId))}`)
  return withQuery(base, params)
}

export const withQuery = (base: string, params: ReadonlyArray<string>): string => {
  const hash = base.indexOf("#")
  const url = hash === -1 ? base : base.slice(0, hash)
  const sep = url.includes("?") ? (url.endsWith("?") || url.endsWith("&") ? "" : "&") : "?"
  return `${url}${sep}${params.join("&")}`
}

/**
 * BEP 48: the scrape URL is the announce URL with the last path segment's
 * leading "announce" replaced by "scrape"; other trackers cannot scrape.
 */
export const scrapeBase = (announce: string): string | undefined => {
  const queryAt = announce.search(/[?#]/)
  const path = queryAt === -1 ? announce : announce.slice(0, queryAt)
  const rest = queryAt === -1 ? "" : announce.slice(queryAt)
  const slash = path.lastIndexOf("/")
  if (slash === -1 || !path.startsWith("announce", slash + 1)) return undefined
  return `${path.slice(0, slash + 1)}scrape${path.slice(slash + 1 + "announce".length)}${rest}`
}

export const scrapeUrl = (base: string, infoHashes: ReadonlyArray<Uint8Array>): string =>
  withQuery(base, infoHashes.map((h) => `info_hash=${percentEncodeBytes(h)}`))

/** Why a response was rejected; `failure` carries the tracker's own text. */
export type ParseError =
  | { readonly _tag: "Failure"; readonly reason: string }
  | { readonly _tag: "Invalid"; readonly detail: string }

const invalid = (detail: string): ParseError => ({ _tag: "Invalid", detail })

const latin1 = new TextDecoder("latin1")
/** Tracker texts are meant to be UTF-8; fall back to latin1 rather than lose the message. */
export const readText = (bytes: Uint8Array): string => Bencode.utf8(bytes) ?? latin1.decode(bytes)

/** BEP 3 dictionary model: a list of { ip, port, peer id }. Unusable entries are skipped. */
const parseDictPeers = (list: ReadonlyArray<Bencode.BencodeValue>, max: number): Array<Address> => {
  const out: Array<Address> = []
  for (const entry of list) {
    if (out.length >= max) break
    if (!Bencode.isDict(entry)) continue
    const ip = Bencode.getBytes(entry, "ip")
    const port = Bencode.getInt(entry, "port")
    if (ip === undefined || port === undefined || !isValidPort(port)) continue
    const host = Bencode.utf8(ip)
    if (host === undefined || host.length === 0 || host.length > 255) continue
    out.push({ host, port })
  }
  return out
}

const nonNegative = (n: number | undefined): number | undefined => n !== undefined && n >= 0 ? n : undefined

const decodeDict = (body: Uint8Array): Result.Result<Bencode.BencodeDict, ParseError> => {
  const decoded = Bencode.decode(body, { maxDepth: 8, maxElements: 100_000 })
  if (Result.isFailure(decoded)) return Result.fail(invalid(`not bencode (${decoded.failure.message})`))
  const value = decoded.success
  if (!Bencode.isDict(value)) return Result.fail(invalid("not a bencoded dictionary"))
  const failure = Bencode.getBytes(value, "failure reason")
  if (failure !== undefined) return Result.fail({ _tag: "Failure", reason: readText(failure) })
  return Result.succeed(value)
}

export const parseAnnounce = (body: Uint8Array): Result.Result<AnnounceResponse, ParseError> =>
  Result.flatMap(decodeDict(body), (dict) => {
    const interval = Bencode.getInt(dict, "interval")
    if (interval === undefined) return Result.fail(invalid("missing interval"))
    if (interval < 0) return Result.fail(invalid(`negative interval ${interval}`))
    const peersField = Bencode.getField(dict, "peers")
    let peers: Array<Address>
    if (peersField === undefined) peers = []
    else if (Bencode.isBytes(peersField)) peers = decodeCompactList(peersField, 4, MAX_PEERS_PER_RESPONSE)
    else if (Bencode.isList(peersField)) peers = parseDictPeers(peersField, MAX_PEERS_PER_RESPONSE)
    else return Result.fail(invalid("peers is neither a string nor a list"))
    const peers6 = Bencode.getBytes(dict, "peers6")
    if (peers6 !== undefined) {
      peers = peers.concat(decodeCompactList(peers6, 6, MAX_PEERS_PER_RESPONSE - peers.length))
    }
    const minInterval = nonNegative(Bencode.getInt(dict, "min interval"))
    const complete = nonNegative(Bencode.getInt(dict, "complete"))
    const incomplete = nonNegative(Bencode.getInt(dict, "incomplete"))
    const warning = Bencode.getBytes(dict, "warning message")
    const trackerId = Bencode.getBytes(dict, "tracker id")
    return Result.succeed({
      interval,
      peers,
      ...(minInterval !== undefined ? { minInterval } : {}),
      ...(complete !== undefined ? { complete } : {}),
      ...(incomplete !== undefined ? { incomplete } : {}),
      ...(warning !== undefined ? { warning: readText(warning) } : {}),
      ...(trackerId !== undefined ? { trackerId: readText(trackerId) } : {})
    })
  })

/** Entries for the requested hashes the tracker knows, in request order. */
export const parseScrape = (
  body: Uint8Array,
  infoHashes: ReadonlyArray<Uint8Array>
): Result.Result<Array<ScrapeEntry>, ParseError> =>
  Result.flatMap(decodeDict(body), (dict) => {
    const files = Bencode.getDict(dict, "files")
    if (files === undefined) return Result.fail(invalid("missing files dictionary"))
    const out: Array<ScrapeEntry> = []
    for (const infoHash of infoHashes) {
      const entry = Bencode.getDict(files, Bencode.keyFromBytes(infoHash))
      if (entry === undefined) continue
      out.push({
        infoHash,
        complete: nonNegative(Bencode.getInt(entry, "complete")) ?? 0,
        downloaded: nonNegative(Bencode.getInt(entry, "downloaded")) ?? 0,
        incomplete: nonNegative(Bencode.getInt(entry, "incomplete")) ?? 0
      })
    }
    return Result.succeed(out)
  })
