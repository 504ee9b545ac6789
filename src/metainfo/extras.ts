/** Optional top-level keys: trackers (BEP 12), web seeds (BEP 19), creation date, comment. Malformed optional keys are ignored, never fatal. */
import { type BencodeDict, type BencodeValue, getBytes, getField, getInt, isBytes, isList } from "../bencode/index.ts"

const lenient = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })

const urlText = (v: BencodeValue | undefined): string | undefined => {
  if (!isBytes(v)) return undefined
  const s = lenient.decode(v).trim()
  return s === "" ? undefined : s
}

/** Announce tiers: `announce-list` when it yields any URL, else `announce`. Exact duplicates are dropped. */
export const readTrackers = (top: BencodeDict): ReadonlyArray<ReadonlyArray<string>> => {
  const seen = new Set<string>()
  const tiers: Array<Array<string>> = []
  const list = getField(top, "announce-list")
  if (isList(list)) {
    for (const tier of list) {
      const urls = isList(tier) ? tier : [tier]
      const kept: Array<string> = []
      for (const u of urls) {
        const s = urlText(u)
        if (s !== undefined && !seen.has(s)) {
          seen.add(s)
          kept.push(s)
        }
      }
      if (kept.length > 0) tiers.push(kept)
    }
  }
  if (tiers.length > 0) return tiers
  const single = urlText(getField(top, "announce"))
  return single === undefined ? [] : [[single]]
}

/** Percent-encodes bytes that may not appear raw in a URL (spaces, controls, non-ASCII). */
const escapeUrl = (s: string): string =>
  s.replace(/[^\u0021-\u007e]/gu, (c) => encodeURIComponent(c))

/** A field holding URLs (a list, or a lone string): escaped, in order, without repeats. */
const readUrls = (top: BencodeDict, key: string, adjust: (url: string) => string = (url) => url): ReadonlyArray<string> => {
  const raw = getField(top, key)
  const items = isList(raw) ? raw : raw === undefined ? [] : [raw]
  const out: Array<string> = []
  for (const item of items) {
    const s = urlText(item)
    if (s === undefined) continue
    const url = adjust(escapeUrl(s))
    if (!out.includes(url)) out.push(url)
  }
  return out
}

/**
 * BEP 19 `url-list` (a string or a list). For a torrent with several files the
 * URL names a directory, so a trailing "/" is added (libtorrent does the same).
 */
export const readWebSeeds = (top: BencodeDict, severalFiles: boolean): ReadonlyArray<string> =>
  readUrls(top, "url-list", (url) => severalFiles && !url.endsWith("/") ? `${url}/` : url)

/** BEP 17 `httpseeds`: a list of URLs (a lone string is accepted too), each asked for whole pieces by info-hash. */
export const readHttpSeeds = (top: BencodeDict): ReadonlyArray<string> => readUrls(top, "httpseeds")

/** Seconds since the epoch; values that can only be milliseconds (WebTorrent writes those) are converted. */
export const readCreationDate = (top: BencodeDict): number | null => {
  const v = getInt(top, "creation date")
  if (v === undefined || v < 0) return null
  return v > 100_000_000_000 ? Math.floor(v / 1000) : v
}

/** `<key>.utf-8` preferred, else `<key>`, decoded as UTF-8 (invalid bytes become U+FFFD). */
export const readText = (dict: BencodeDict, key: string): string | null => {
  const v = getBytes(dict, `${key}.utf-8`) ?? getBytes(dict, key)
  return v === undefined ? null : lenient.decode(v)
}
