/**
 * BEP 14 announces, as pure functions: an HTTP-like request over UDP multicast.
 *
 * ```
 * BT-SEARCH * HTTP/1.1\r\n
 * Host: 239.192.152.143:6771\r\n
 * Port: 6881\r\n
 * Infohash: <40 hex>\r\n        (one or more)
 * cookie: <opaque>\r\n          (optional: we drop our own announces by it)
 * \r\n
 * \r\n
 * ```
 */
import { Result } from "effect"
import { INFO_HASH_TEXT } from "../ids.ts"
import { isValidPort } from "../net/address.ts"

export const LSD_PORT = 6771
export const LSD_GROUP_V4 = "239.192.152.143"
/** BEP 14's IPv6 group (site-local), as the spec and libtorrent name it. */
export const LSD_GROUP_V6 = "ff15::efc0:988f"
/** BEP 14: an announce with several info-hashes should stay within 1400 bytes (no fragmentation). */
export const MAX_ANNOUNCE_BYTES = 1400
/** More info-hashes than fit in one datagram are not read. */
const MAX_HASHES = 64

export interface LsdAnnounce {
  readonly port: number
  /** Lower-case hex. */
  readonly infoHashes: ReadonlyArray<string>
  readonly cookie: string | null
}

/** The `Host` header for a group: `239.192.152.143:6771`, `[ff15::efc0:988f]:6771`. */
export const hostHeader = (group: string): string => (group.includes(":") ? `[${group}]:${LSD_PORT}` : `${group}:${LSD_PORT}`)

const encoder = new TextEncoder()

const formatOne = (group: string, port: number, hashes: ReadonlyArray<string>, cookie: string | null): string =>
  `BT-SEARCH * HTTP/1.1\r\nHost: ${hostHeader(group)}\r\nPort: ${port}\r\n` +
  hashes.map((h) => `Infohash: ${h}\r\n`).join("") +
  (cookie === null ? "" : `cookie: ${cookie}\r\n`) +
  "\r\n\r\n"

/** Announces for `hashes`, as few datagrams as fit within `MAX_ANNOUNCE_BYTES` each. */
export const formatAnnounces = (group: string, port: number, hashes: ReadonlyArray<string>, cookie: string | null): ReadonlyArray<Uint8Array> => {
  const out: Array<Uint8Array> = []
  let batch: Array<string> = []
  for (const h of hashes) {
    if (batch.length > 0 && formatOne(group, port, [...batch, h], cookie).length > MAX_ANNOUNCE_BYTES) {
      out.push(encoder.encode(formatOne(group, port, batch, cookie)))
      batch = []
    }
    batch.push(h)
  }
  if (batch.length > 0) out.push(encoder.encode(formatOne(group, port, batch, cookie)))
  return out
}

const latin1 = new TextDecoder("latin1")

/** Reads an announce; unknown headers are ignored (BEP 14: forwards compatibility). */
export const parseAnnounce = (bytes: Uint8Array): Result.Result<LsdAnnounce, string> => {
  const lines = latin1.decode(bytes).split("\r\n")
  if (lines[0]?.trim() !== "BT-SEARCH * HTTP/1.1") return Result.fail("not a BT-SEARCH request")
  let port: number | undefined
  let cookie: string | null = null
  const infoHashes: Array<string> = []
  for (const line of lines.slice(1)) {
    if (line === "") continue
    const colon = line.indexOf(":")
    if (colon <= 0) return Result.fail(`malformed header line ${JSON.stringify(line.slice(0, 40))}`)
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === "port") {
      if (!/^\d{1,5}$/.test(value) || !isValidPort(Number(value))) return Result.fail(`bad port ${JSON.stringify(value)}`)
      port = Number(value)
    } else if (name === "infohash") {
      if (!INFO_HASH_TEXT.test(value)) return Result.fail(`bad info-hash ${JSON.stringify(value.slice(0, 50))}`)
      const hash = value.toLowerCase()
      if (infoHashes.length < MAX_HASHES && !infoHashes.includes(hash)) infoHashes.push(hash)
    } else if (name === "cookie") {
      cookie = value
    }
  }
  if (port === undefined) return Result.fail("no Port header")
  if (infoHashes.length === 0) return Result.fail("no Infohash header")
  return Result.succeed({ port, infoHashes, cookie })
}
