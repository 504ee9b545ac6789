/**
 * Magnet links: BEP 9 (`xt=urn:btih:`, dn, tr, x.pe), BEP 52/53 (`xt=urn:btmh:`
 * multihash, `so` file selection), BEP 19 `ws`.
 *
 * Policy: the info-hash is mandatory and must be well-formed (a wrong hash
 * would join the wrong swarm). Optional parameters are lenient: unknown keys are
 * ignored, an `x.pe` that is not host:port is dropped. `so` is strict (it
 * changes what gets downloaded) and capped at MAX_SELECT_ONLY indices.
 * Values are form-decoded: "+" means a space (so `formatMagnet` writes "%2B").
 */
import { Result } from "effect"
import { bytesEqual, fromHex, toHex } from "../bytes.ts"
import { formatAddress, parseAddress } from "../net/address.ts"
import type { Address } from "../net/Network.ts"
import { fromBase32 } from "./encoding.ts"
import { MagnetError, type MagnetErrorReason } from "./errors.ts"

/**
 * A parsed magnet link (BEP 9, BEP 53 `so`, BEP 52 `btmh` v2 hashes): what `parseMagnet`
 * returns and `formatMagnet` writes. It names a torrent without its info dict; `Client.add`
 * fetches the info dict from peers (`{ magnet: uri }`).
 */
export interface Magnet {
  /** v1 info-hash (20 bytes), from `urn:btih:` (40 hex or 32 base32 chars). */
  readonly infoHash: Uint8Array | null
  /** v2 info-hash (32 bytes), from `urn:btmh:1220<64 hex>` (sha2-256 multihash). */
  readonly infoHashV2: Uint8Array | null
  readonly name: string | null
  readonly trackers: ReadonlyArray<string>
  readonly webSeeds: ReadonlyArray<string>
  /** `x.pe` peers (host:port, [v6]:port), parsed and normalised. */
  readonly peers: ReadonlyArray<Address>
  /** BEP 53 file indices, sorted and unique; null when absent. */
  readonly selectOnly: ReadonlyArray<number> | null
}

export const MAX_SELECT_ONLY = 100_000
/** Generous cap on the URI itself: magnets are pasted by users and fetched from pages. */
export const MAX_MAGNET_LENGTH = 64 * 1024

const fail = (reason: MagnetErrorReason, message: string) =>
  Result.fail(new MagnetError({ reason, message: `invalid magnet link: ${message}` }))

const formDecode = (s: string): string | undefined => {
  try {
    return decodeURIComponent(s.replaceAll("+", " "))
  } catch {
    return undefined
  }
}


const parseSelectOnly = (s: string): Result.Result<ReadonlyArray<number>, MagnetError> => {
  const picked = new Set<number>()
  for (const part of s.split(",")) {
    const m = /^(\d{1,9})(?:-(\d{1,9}))?$/.exec(part.trim())
    if (m === null) return fail("InvalidSelectOnly", `'so' item ${JSON.stringify(part)} is not an index or range`)
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (to < from) return fail("InvalidSelectOnly", `'so' range ${part} is reversed`)
    if (to - from + 1 > MAX_SELECT_ONLY) return fail("LimitExceeded", `'so' selects more than ${MAX_SELECT_ONLY} files`)
    for (let i = from; i <= to; i++) {
      picked.add(i)
      if (picked.size > MAX_SELECT_ONLY) return fail("LimitExceeded", `'so' selects more than ${MAX_SELECT_ONLY} files`)
    }
  }
  return Result.succeed([...picked].sort((a, b) => a - b))
}

/** Parses a magnet URI; never throws. */
export const parseMagnetResult = (uri: string): Result.Result<Magnet, MagnetError> => {
  if (uri.length > MAX_MAGNET_LENGTH) return fail("LimitExceeded", `longer than ${MAX_MAGNET_LENGTH} characters`)
  const trimmed = uri.trim()
  if (trimmed.slice(0, 8).toLowerCase() !== "magnet:?") return fail("NotAMagnet", "it does not start with 'magnet:?'")
  let infoHash: Uint8Array | null = null
  let infoHashV2: Uint8Array | null = null
  let name: string | null = null
  const trackers: Array<string> = []
  const webSeeds: Array<string> = []
  const peers: Array<Address> = []
  let selectOnly: ReadonlyArray<number> | null = null
  const query = trimmed.slice(8).split("#")[0] ?? ""
  for (const param of query.split("&")) {
    if (param === "") continue
    const eq = param.indexOf("=")
    const rawKey = eq < 0 ? param : param.slice(0, eq)
    const key = formDecode(rawKey)?.toLowerCase()
    const value = formDecode(eq < 0 ? "" : param.slice(eq + 1))
    if (key === undefined || value === undefined) {
      return fail("MalformedEncoding", `bad percent-encoding in ${JSON.stringify(param.slice(0, 80))}`)
    }
    // "xt.1", "xt.2"... carry extra exact topics
    if (key === "xt" || /^xt\.\d+$/.test(key)) {
      const lower = value.toLowerCase()
      if (lower.startsWith("urn:btih:")) {
        const h = value.slice(9)
        const bytes = h.length === 40 ? fromHex(h) : h.length === 32 ? fromBase32(h) : undefined
        if (bytes === undefined || bytes.length !== 20) {
          return fail("InvalidInfoHash", `btih ${JSON.stringify(h.slice(0, 80))} is not 40 hex or 32 base32 characters`)
        }
        if (infoHash !== null && !bytesEqual(infoHash, bytes)) return fail("ConflictingInfoHash", "two different btih hashes")
        infoHash = bytes
      } else if (lower.startsWith("urn:btmh:")) {
        const h = value.slice(9)
        const bytes = h.length === 68 && h.slice(0, 4) === "1220" ? fromHex(h.slice(4)) : undefined
        if (bytes === undefined) {
          return fail("InvalidInfoHash", `btmh ${JSON.stringify(h.slice(0, 80))} is not a sha2-256 multihash (1220 + 64 hex)`)
        }
        if (infoHashV2 !== null && !bytesEqual(infoHashV2, bytes)) return fail("ConflictingInfoHash", "two different btmh hashes")
        infoHashV2 = bytes
      }
    } else if (key === "dn") {
      name = value
    } else if (key === "tr" || /^tr\.\d+$/.test(key)) {
      if (value !== "" && !trackers.includes(value)) trackers.push(value)
    } else if (key === "ws") {
      if (value !== "" && !webSeeds.includes(value)) webSeeds.push(value)
    } else if (key === "x.pe") {
      const peer = parseAddress(value)
      if (peer !== undefined && !peers.some((p) => p.host === peer.host && p.port === peer.port)) peers.push(peer)
    } else if (key === "so") {
      const r = parseSelectOnly(value)
      if (Result.isFailure(r)) return Result.fail(r.failure)
      selectOnly = [...new Set([...(selectOnly ?? []), ...r.success])].sort((a, b) => a - b)
      if (selectOnly.length > MAX_SELECT_ONLY) return fail("LimitExceeded", `'so' selects more than ${MAX_SELECT_ONLY} files`)
    }
  }
  if (infoHash === null && infoHashV2 === null) {
    return fail("MissingInfoHash", "no 'xt=urn:btih:' or 'xt=urn:btmh:' info-hash")
  }
  return Result.succeed({ infoHash, infoHashV2, name, trackers, webSeeds, peers, selectOnly })
}

const enc = (s: string) => encodeURIComponent(s.toWellFormed())

/** Compresses sorted indices into "0,2,4-6". */
const formatRanges = (indices: ReadonlyArray<number>): string => {
  const sorted = [...new Set(indices)].sort((a, b) => a - b)
  const parts: Array<string> = []
  for (let i = 0; i < sorted.length;) {
    const start = sorted[i] ?? 0
    let end = start
    while (sorted[i + 1] === end + 1) {
      end++
      i++
    }
    i++
    parts.push(start === end ? `${start}` : `${start}-${end}`)
  }
  return parts.join(",")
}

/** Writes a magnet URI for `magnet` (hex hashes, every value percent-encoded); `parseMagnet` reads it back. */
export const formatMagnet = (m: Magnet): string => {
  const params: Array<string> = []
  if (m.infoHash !== null) params.push(`xt=urn:btih:${toHex(m.infoHash)}`)
  if (m.infoHashV2 !== null) params.push(`xt=urn:btmh:1220${toHex(m.infoHashV2)}`)
  if (m.name !== null) params.push(`dn=${enc(m.name)}`)
  for (const t of m.trackers) params.push(`tr=${enc(t)}`)
  for (const w of m.webSeeds) params.push(`ws=${enc(w)}`)
  for (const p of m.peers) params.push(`x.pe=${enc(formatAddress(p))}`)
  if (m.selectOnly !== null && m.selectOnly.length > 0) params.push(`so=${formatRanges(m.selectOnly)}`)
  return `magnet:?${params.join("&")}`
}
