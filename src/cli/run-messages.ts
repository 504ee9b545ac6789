/**
 * What `download` and `seed` say while they run, besides the progress view: the metadata
 * phase of a magnet link, the piece layer phase of a v2 torrent without them, hints when no peer turns up, the port fallback, how seeding ends
 * and the closing line after Ctrl-C. Every message has a JSON form for `--json`.
 */
import { Console, Duration, Effect, Logger, SubscriptionRef } from "effect"
import { failingTrackers, NO_PEERS_WARNING_AFTER } from "../client/no-peers.ts"
import type { MetadataProgress, PieceLayersProgress } from "../magnet/index.ts"
import type { Torrent, TorrentState } from "../torrent/index.ts"
import { oneLine } from "./format.ts"
import { formatBytes, formatEta } from "./units.ts"

/** How progress is shown: a live line on a terminal, plain lines on a pipe, JSON lines with --json. */
export type OutputMode = "tty" | "plain" | "json" | "quiet"

/** `--quiet`: warnings and errors only. */
export const outputMode = (json: boolean, quiet = false): OutputMode =>
  json ? "json" : quiet ? "quiet" : process.stderr.isTTY ? "tty" : "plain"

/** Says `line` on stderr unless quiet (after the live line on a terminal). */
export const say = (mode: OutputMode, line: string) =>
  mode === "quiet" ? Effect.void : Console.error(`${mode === "tty" ? "\n" : ""}${line}`)

/**
 * The client's own log lines as a user reads them, `warning: <message>`, instead of
 * Effect's `timestamp=… level=WARN fiber=#1 message=…`. On stderr: stdout is for results.
 */
export const userLogger = Logger.make<unknown, void>(({ logLevel, message }) => void process.stderr.write(`${logLine(logLevel, message)}\n`))

/** One log line: `warning: text` (Effect.log's arguments joined by spaces). Pure. */
export const logLine = (level: string, message: unknown): string => {
  const parts = Array.isArray(message) ? message : [message]
  const text = parts.map((p) => typeof p === "string" ? p : p instanceof Error ? p.message : String(p)).join(" ")
  return `${level === "Warn" ? "warning" : level.toLowerCase()}: ${oneLine(text)}`
}


/** After this long without a peer, say why there may be none. */
export const NO_PEERS_SECONDS = Duration.toSeconds(NO_PEERS_WARNING_AFTER)

/** A warning line: on stderr (after the live line on a terminal), or a JSON object. */
export const warn = (mode: OutputMode, line: string) =>
  mode === "json"
    ? Console.log(JSON.stringify({ type: "warning", message: line }))
    : Console.error(`${mode === "tty" ? "\n" : ""}warning: ${line}`)

/** Where a magnet link's peers could come from, for the hint when none has answered. */
export interface MagnetSources {
  readonly trackers: number
  readonly linkPeers: number
  readonly extraPeers: number
  readonly dht: boolean
}

/** The hint when a magnet link's metadata has found no peer in NO_PEERS_SECONDS. Pure. */
export const noMetadataPeersLine = (s: MagnetSources): string => {
  const asked = [
    ...(s.trackers > 0 ? [`${s.trackers} tracker(s)`] : []),
    ...(s.linkPeers + s.extraPeers > 0 ? [`${s.linkPeers + s.extraPeers} peer address(es)`] : []),
    ...(s.dht ? ["the DHT"] : [])
  ]
  const where = asked.length === 0
    ? "the link names no trackers or peers and the DHT is off; try --peer HOST:PORT, or leave the DHT on"
    : `asked ${asked.join(", ")}; none has answered with the torrent's metadata yet`
  return `no peers for the metadata after ${NO_PEERS_SECONDS}s (${where})`
}

/** The 30 s hint: no peer yet, and why we think so. */
export const reportNoPeers = (torrent: Torrent, mode: OutputMode) => {
  const state = SubscriptionRef.getUnsafe(torrent.state)
  const failing = failingTrackers(state.trackers)
  const why = failing.length > 0
    ? ` (${failing.join("; ")})`
    : state.trackers.length === 0
    ? " (the torrent lists no trackers; try --peer HOST:PORT)"
    : ""
  const line = `no peers after ${NO_PEERS_SECONDS}s${why}`
  return warn(mode, line)
}

export const showMetadataProgress = (mode: OutputMode, p: MetadataProgress) => {
  const size = p.total === 0 ? "size unknown" : `${formatBytes(p.received)} of ${formatBytes(p.total)}`
  switch (mode) {
    case "json":
      return Console.log(JSON.stringify({ type: "metadata", peers: p.peers, received: p.received, total: p.total }))
    case "tty":
      return Effect.sync(() => process.stderr.write(`\rfetching metadata: ${p.peers} peers, ${size}\x1b[K`))
    case "plain":
      return Console.error(`fetching metadata: ${p.peers} peers, ${size}`)
    case "quiet":
      return Effect.void
  }
}

/** The piece layer phase's line (a v2 torrent whose .torrent or magnet lacks them). Pure. */
export const pieceLayersLine = (p: PieceLayersProgress): string =>
  `fetching piece layers: ${p.files}/${p.total} files, ${p.peers} ${p.peers === 1 ? "peer" : "peers"}`

export const showPieceLayersProgress = (mode: OutputMode, p: PieceLayersProgress) => {
  switch (mode) {
    case "json":
      return Console.log(JSON.stringify({ type: "pieceLayers", files: p.files, total: p.total, peers: p.peers }))
    case "tty":
      return Effect.sync(() => process.stderr.write(`\r${pieceLayersLine(p)}\x1b[K`))
    case "plain":
      return Console.error(pieceLayersLine(p))
    case "quiet":
      return Effect.void
  }
}

/** The hint when a v2 torrent's piece layers have found no peer in NO_PEERS_SECONDS. */
export const noPieceLayersPeersLine = (): string =>
  `no peers for the piece layers after ${NO_PEERS_SECONDS}s (this v2 torrent's piece layers are not in its .torrent or link and must come from a peer before any data; try --peer HOST:PORT)`

/** What `download --seed` / `seed` say once seeding starts: how it will end. */
export const seedingLine = (plan: { readonly seedRatio: number | undefined; readonly seedTime: Duration.Duration | undefined }): string => {
  const goals = [
    ...(plan.seedRatio === undefined ? [] : [`ratio ${plan.seedRatio}`]),
    ...(plan.seedTime === undefined ? [] : [formatEta(Duration.toSeconds(plan.seedTime))])
  ]
  return goals.length === 0 ? "seeding; press Ctrl-C to stop" : `seeding until ${goals.join(" or ")}, whichever comes first (Ctrl-C stops sooner)`
}

/** The line after Ctrl-C: where the torrent was left (undefined: stopped before it was added). */
export const stoppedLine = (state: TorrentState | undefined, mode: OutputMode) => {
  if (mode === "json") {
    return Console.log(JSON.stringify(
      state === undefined
        ? { type: "stopped" }
        : { type: "stopped", progress: state.progress, verifiedBytes: state.verifiedBytes, wantedBytes: state.wantedBytes, uploaded: state.uploaded }
    ))
  }
  if (mode === "quiet") return Effect.void
  const lead = mode === "tty" ? "\n" : ""
  if (state === undefined) return Console.error(`${lead}stopped before the torrent started`)
  const name = oneLine(state.name)
  const uploaded = `uploaded ${formatBytes(state.uploaded)}`
  return Console.error(
    state.progress >= 1
      ? `${lead}${name}: stopped, complete, ${uploaded}`
      : `${lead}${name}: stopped at ${(state.progress * 100).toFixed(1)}% (${formatBytes(state.verifiedBytes)} of ${formatBytes(state.wantedBytes)}), ${uploaded}; run the same command again to resume`
  )
}
