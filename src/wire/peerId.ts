import { Effect, Random } from "effect"
import { PEER_ID_PREFIX } from "../version.ts"

export const PEER_ID_LENGTH = 20

// Unreserved URL characters only, so the id survives tracker query strings unescaped.
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * A fresh 20-byte peer id: the prefix (ASCII, truncated to 20 bytes) followed by random
 * alphanumerics drawn from Effect's `Random` (seedable in tests).
 */
export const makePeerId = (prefix: string = PEER_ID_PREFIX): Effect.Effect<Uint8Array> =>
  Effect.gen(function*() {
    const id = new Uint8Array(PEER_ID_LENGTH)
    const head = new TextEncoder().encode(prefix).subarray(0, PEER_ID_LENGTH)
    id.set(head)
    for (let i = head.length; i < PEER_ID_LENGTH; i++) {
      const k = yield* Random.nextIntBetween(0, ALPHABET.length, { halfOpen: true })
      id[i] = ALPHABET.charCodeAt(k)
    }
    return id
  })

/** Azureus-style two-letter codes (BEP 20 list, trimmed to clients still seen in the wild). */
const AZUREUS: Readonly<Record<string, string>> = {
  AG: "Ares",
  AZ: "Vuze",
  BB: "BitBuddy",
  BC: "BitComet",
  BF: "Bitflu",
  BI: "BiglyBT",
  BT: "BitTorrent",
  DE: "Deluge",
  ET: "effect-torrent",
  FD: "Free Download Manager",
  FW: "FrostWire",
  HL: "Halite",
  KG: "KGet",
  KT: "KTorrent",
  LT: "libtorrent",
  lt: "libTorrent (rakshasa)",
  LW: "LimeWire",
  MO: "MonoTorrent",
  PI: "PicoTorrent",
  qB: "qBittorrent",
  QD: "QQDownload",
  rQ: "rqbit",
  SD: "Thunder",
  SZ: "Shareaza",
  TB: "Torch",
  TL: "Tribler",
  TR: "Transmission",
  TT: "TuoTu",
  UM: "µTorrent Mac",
  UT: "µTorrent",
  UW: "µTorrent Web",
  WD: "WebTorrent Desktop",
  WW: "WebTorrent",
  XL: "Xunlei",
  ZT: "ZipTorrent"
}

/** Shadow-style single-letter codes (BEP 20). */
const SHADOW: Readonly<Record<string, string>> = {
  A: "ABC",
  O: "Osprey Permaseed",
  Q: "BTQueue",
  R: "Tribler",
  S: "Shadow",
  T: "BitTornado",
  U: "UPnP NAT Bit Torrent"
}

const SHADOW_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz."

const ascii = (b: Uint8Array, from: number, to: number): string => {
  let s = ""
  for (let i = from; i < Math.min(to, b.length); i++) s += String.fromCharCode(b[i] ?? 0)
  return s
}

const isAlnum = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)

/** Azureus version digits are usually decimal; some clients use letters for values above 9. */
const azureusDigit = (c: string): number | undefined => {
  const v = SHADOW_DIGITS.indexOf(c)
  return v >= 0 && v < 62 ? v : undefined
}

const azureusVersion = (v: string): string => {
  const d = [...v].map(azureusDigit)
  const [a, b, c, e] = d
  if (a === undefined || b === undefined || c === undefined) return v
  // The fourth character is a build number or a release tag (µTorrent's "B"/"W"); only show a nonzero number.
  const tail = e !== undefined && e !== 0 && e < 10 ? `.${e}` : ""
  return `${a}.${b}.${c}${tail}`
}

/** Printable fallback: ASCII as-is, everything else as \xNN. */
const printable = (b: Uint8Array, n: number): string => {
  const parts: Array<string> = []
  for (let i = 0; i < Math.min(n, b.length); i++) {
    const c = b[i] ?? 0
    parts.push(c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`)
  }
  // one flat string: `+=` would keep a chain of up to 2n string pieces for as long as the peer stays
  return parts.join("")
}

/**
 * Best-effort client name and version from a peer id (BEP 20 conventions). Never fails:
 * unknown ids give `unknown client (<first 8 bytes>)`. Purely informational; never trust it.
 */
export const clientFromPeerId = (id: Uint8Array): string => {
  const s = ascii(id, 0, 10)

  // aria2: "A2-<major>-<minor>-<patch>-"
  const aria = /^A2-(\d+)-(\d+)-(\d+)-/.exec(s)
  if (aria !== null) return `aria2 ${aria[1]}.${aria[2]}.${aria[3]}`

  // Azureus style: "-XXvvvv-"
  if (s[0] === "-" && id.length >= 3 && isAlnum(id[1] ?? 0) && isAlnum(id[2] ?? 0)) {
    const code = s.slice(1, 3)
    const name = AZUREUS[code]
    const wellFormed = s[7] === "-"
    const version = wellFormed ? azureusVersion(s.slice(3, 7)) : undefined
    if (name !== undefined) return version === undefined ? name : `${name} ${version}`
    if (wellFormed) return `unknown client "${code}" ${version ?? ""}`.trimEnd()
  }

  // Mainline / Queen Bee: "M4-3-6--", "Q1-10-0-"
  const mainline = /^([MQ])(\d{1,3})-(\d{1,3})-(\d{1,3})-/.exec(s)
  if (mainline !== null) {
    const name = mainline[1] === "M" ? "Mainline" : "Queen Bee"
    return `${name} ${mainline[2]}.${mainline[3]}.${mainline[4]}`
  }

  // Shadow style: letter + up to 5 version chars padded with '-', then "---"
  const shadowName = SHADOW[s[0] ?? ""]
  if (shadowName !== undefined && s.slice(6, 9) === "---") {
    const parts: Array<number> = []
    for (const c of s.slice(1, 6)) {
      if (c === "-") break
      const v = SHADOW_DIGITS.indexOf(c)
      if (v < 0) return `${shadowName} (unrecognised version)`
      parts.push(v)
    }
    return parts.length === 0 ? shadowName : `${shadowName} ${parts.join(".")}`
  }

  // XBT: "XBT054d-" = 0.5.4 (d = debug build)
  const xbt = /^XBT(\d)(\d)(\d)([d-])-/.exec(s)
  if (xbt !== null) return `XBT ${xbt[1]}.${xbt[2]}.${xbt[3]}${xbt[4] === "d" ? " (debug)" : ""}`

  // BitComet/BitLord before 0.59: "exbc" + two version bytes
  if (s.startsWith("exbc") && id.length >= 6) {
    const name = ascii(id, 6, 10) === "LORD" ? "BitLord" : "BitComet"
    return `${name} ${id[4] ?? 0}.${String(id[5] ?? 0).padStart(2, "0")}`
  }

  return `unknown client (${printable(id, 8)})`
}
