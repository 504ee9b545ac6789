/**
 * What `info` prints, as pure functions of the parsed torrent / magnet:
 * `torrentJson`/`magnetJson` (the --json object) and `torrentLines`/`magnetLines`.
 */
import { formatMagnet, type Magnet } from "../metainfo/index.ts"
import { formatAddress } from "../net/address.ts"
import type { Metainfo, TorrentFile } from "../metainfo/model.ts"
import { toHex } from "../bytes.ts"
import { oneLine } from "./format.ts"
import { formatBytes } from "./units.ts"

/** The `info --json` object (same keys for torrents and magnets; unknown values are null). */
export interface InfoJson {
  readonly kind: "torrent" | "magnet"
  readonly infoHash: string | null
  readonly infoHashV2: string | null
  readonly version: "v1" | "v2" | "hybrid" | null
  readonly name: string | null
  readonly totalSize: number | null
  readonly pieceLength: number | null
  readonly pieceCount: number | null
  /** `path` is `/`-joined and starts with the torrent name for multi-file torrents; padding files excluded. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number }> | null
  readonly trackers: ReadonlyArray<ReadonlyArray<string>>
  readonly webSeeds: ReadonlyArray<string>
  readonly private: boolean | null
  readonly comment: string | null
  readonly createdBy: string | null
  readonly creationDate: number | null
  /** Magnet `x.pe` peers (host:port); null for torrents. */
  readonly peers: ReadonlyArray<string> | null
  /** A magnet link for it (for a magnet: the link written back in a canonical form). */
  readonly magnet: string
}

const hexOrNull = (b: Uint8Array | null): string | null => (b === null ? null : toHex(b))

const realFiles = (m: Metainfo): ReadonlyArray<TorrentFile> => m.files.filter((f) => !f.padding)

export const torrentJson = (m: Metainfo): InfoJson => ({
  kind: "torrent",
  infoHash: hexOrNull(m.infoHash),
  infoHashV2: hexOrNull(m.infoHashV2),
  version: m.version,
  name: m.name,
  totalSize: m.totalSize,
  pieceLength: m.pieceLength,
  pieceCount: m.pieceCount,
  files: realFiles(m).map((f) => ({ path: f.path.join("/"), size: f.length })),
  trackers: m.trackers,
  webSeeds: m.webSeeds,
  private: m.private,
  comment: m.comment,
  createdBy: m.createdBy,
  creationDate: m.creationDate,
  peers: null,
  magnet: magnetOf(m)
})

export const magnetJson = (m: Magnet): InfoJson => ({
  kind: "magnet",
  infoHash: hexOrNull(m.infoHash),
  infoHashV2: hexOrNull(m.infoHashV2),
  version: m.infoHash !== null && m.infoHashV2 !== null ? "hybrid" : m.infoHash !== null ? "v1" : "v2",
  name: m.name,
  totalSize: null,
  pieceLength: null,
  pieceCount: null,
  files: null,
  trackers: m.trackers.map((url) => [url]),
  webSeeds: m.webSeeds,
  private: null,
  comment: null,
  createdBy: null,
  creationDate: null,
  peers: m.peers.map(formatAddress),
  magnet: formatMagnet(m)
})

/**
 * The files, one line each in torrent order, numbered as `download --select` counts them: a
 * file's number is its position in the torrent's file list counting from 1. Padding files
 * (BEP 47) are not shown but keep their numbers, so a hybrid torrent's numbers can skip.
 */
export const fileLines = (files: ReadonlyArray<TorrentFile>, indent = "  "): ReadonlyArray<string> => {
  const width = String(files.length).length
  const lines: Array<string> = []
  files.forEach((f, i) => {
    if (!f.padding) lines.push(`${indent}${String(i + 1).padStart(width)}  ${oneLine(f.path.join("/"))}  (${formatBytes(f.length)})`)
  })
  return lines
}

/** A magnet link for the torrent: its hashes, name, trackers and web seeds. */
export const magnetOf = (m: Metainfo): string =>
  formatMagnet({
    infoHash: m.infoHash,
    infoHashV2: m.infoHashV2,
    name: m.name,
    trackers: m.trackers.flat(),
    webSeeds: m.webSeeds,
    peers: [],
    selectOnly: null
  })

const trackerLines = (tiers: ReadonlyArray<ReadonlyArray<string>>): ReadonlyArray<string> =>
  tiers.length === 0
    ? ["trackers:     (none)"]
    : ["trackers:", ...tiers.map((tier, i) => `  tier ${i + 1}: ${tier.map(oneLine).join(", ")}`)]

const listLines = (title: string, items: ReadonlyArray<string>): ReadonlyArray<string> =>
  items.length === 0 ? [`${title}(none)`] : [title.trimEnd(), ...items.map((s) => `  ${oneLine(s)}`)]

const field = (label: string, value: string) => `${`${label}:`.padEnd(14)}${value}`

export const torrentLines = (m: Metainfo): ReadonlyArray<string> => {
  const files = realFiles(m)
  const padding = m.files.length - files.length
  const optional: Array<string> = []
  if (m.comment !== null) optional.push(field("comment", oneLine(m.comment)))
  if (m.createdBy !== null) optional.push(field("created by", oneLine(m.createdBy)))
  if (m.creationDate !== null) optional.push(field("created", formatDate(m.creationDate)))
  return [
    field("name", oneLine(m.name)),
    ...(m.infoHash !== null ? [field("info hash", toHex(m.infoHash))] : []),
    ...(m.infoHashV2 !== null ? [field("info hash v2", toHex(m.infoHashV2))] : []),
    field("version", m.version),
    field("size", `${formatBytes(m.totalSize)} (${m.totalSize} bytes)`),
    field("pieces", `${m.pieceCount} x ${formatBytes(m.pieceLength)} (piece length ${m.pieceLength})`),
    field("private", m.private ? "yes" : "no"),
    ...optional,
    `files (${files.length}${padding > 0 ? `, plus ${padding} padding` : ""}):`,
    ...fileLines(m.files),
    ...trackerLines(m.trackers),
    ...listLines("web seeds:    ", m.webSeeds),
    field("magnet", magnetOf(m))
  ]
}

export const magnetLines = (m: Magnet): ReadonlyArray<string> => [
  field("name", m.name === null ? "(unknown)" : oneLine(m.name)),
  ...(m.infoHash !== null ? [field("info hash", toHex(m.infoHash))] : []),
  ...(m.infoHashV2 !== null ? [field("info hash v2", toHex(m.infoHashV2))] : []),
  ...trackerLines(m.trackers.map((url) => [url])),
  ...listLines("web seeds:    ", m.webSeeds),
  ...listLines("peers:        ", m.peers.map(formatAddress))
]

/** Seconds since the epoch → ISO 8601 (UTC). Some clients wrote milliseconds: shown as-is if out of range. */
const formatDate = (seconds: number): string => {
  const ms = seconds * 1000
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? `${new Date(ms).toISOString()} (${seconds})` : `${seconds}`
}
