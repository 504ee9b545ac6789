/**
 * How a running torrent is shown: a one-line live view on a terminal, plain lines for
 * logs and pipes, JSON lines for scripts. Pure functions of `TorrentState`.
 */
import type { TorrentState } from "../torrent/index.ts"
import { oneLine } from "./format.ts"
import { formatBytes, formatEta, formatRate } from "./units.ts"

const percent = (state: TorrentState): string => `${(state.progress * 100).toFixed(1)}%`

const statusWord = (state: TorrentState): string => state.status === "downloading" ? "" : `[${state.status}] `

/** Shortens `s` to `room` characters, marking the cut with "~". */
const clip = (s: string, room: number): string => s.length <= room ? s : `${s.slice(0, Math.max(0, room - 1))}~`

/** The shortest a torrent's name gets before it is left out of the live line. */
const MIN_NAME = 8

/**
 * The live line, fitted to `columns` (one less, so the cursor never wraps): the torrent's
 * name, progress, rates, peers, ETA and pieces. When the terminal is narrow the bar goes
 * first, then the seed count, then the name is shortened; whole fields are dropped from the
 * end only when even that does not fit. Never cut mid-word.
 */
export const renderStatusLine = (state: TorrentState, columns: number): string => {
  const room = Math.max(0, columns - 1)
  const filled = Math.round(state.progress * 20)
  const bar = `[${"#".repeat(filled)}${"-".repeat(20 - filled)}] `
  const name = oneLine(state.name)
  const head = statusWord(state)
  const fields = (seeds: boolean, gap: string) => [
    percent(state),
    `down ${formatRate(state.downloadRate)}`,
    `up ${formatRate(state.uploadRate)}`,
    seeds ? `peers ${state.peers} (${state.seeds} seeds)` : `peers ${state.peers}`,
    `ETA ${formatEta(state.eta)}`,
    `pieces ${state.piecesVerified}/${state.pieceCount}`
  ].join(gap)
  const levels = [[true, true, "  "], [false, true, "  "], [false, false, "  "], [false, false, " "]] as const
  for (const [withBar, seeds, gap] of levels) {
    const rest = `${head}${withBar ? bar : ""}${fields(seeds, gap)}`
    const nameRoom = room - rest.length - gap.length
    if (nameRoom >= Math.min(MIN_NAME, name.length)) return `${clip(name, nameRoom)}${gap}${rest}`
  }
  // Very narrow: no name, and whole fields from the end dropped until the rest fits.
  const parts = [`${head}${percent(state)}`, `down ${formatRate(state.downloadRate)}`, `up ${formatRate(state.uploadRate)}`, `peers ${state.peers}`, `ETA ${formatEta(state.eta)}`, `pieces ${state.piecesVerified}/${state.pieceCount}`]
  while (parts.length > 1 && parts.join("  ").length > room) parts.pop()
  return clip(parts.join("  "), room)
}

/** A plain progress line for logs. */
export const renderPlainLine = (state: TorrentState): string =>
  `${oneLine(state.name)}: ${statusWord(state)}${percent(state)} ` +
  `(${formatBytes(state.verifiedBytes)} of ${formatBytes(state.wantedBytes)}), ` +
  `down ${formatRate(state.downloadRate)}, up ${formatRate(state.uploadRate)}, ` +
  `${state.peers} peers, ETA ${formatEta(state.eta)}, pieces ${state.piecesVerified}/${state.pieceCount}`

/** One JSON object per line (`--json`). */
export const renderJsonLine = (state: TorrentState): string =>
  JSON.stringify({
    type: "progress",
    infoHash: state.infoHash,
    name: state.name,
    status: state.status,
    progress: state.progress,
    verifiedBytes: state.verifiedBytes,
    wantedBytes: state.wantedBytes,
    downloaded: state.downloaded,
    uploaded: state.uploaded,
    downloadRate: Math.round(state.downloadRate),
    uploadRate: Math.round(state.uploadRate),
    peers: state.peers,
    seeds: state.seeds,
    eta: state.eta,
    piecesVerified: state.piecesVerified,
    pieceCount: state.pieceCount,
    trackers: state.trackers
  })

/**
 * Parses `--select 1,3-5` (1-based file numbers, as `info` lists them) into 0-based
 * indices; undefined for malformed input or numbers outside 1..fileCount.
 */
export const parseSelection = (input: string, fileCount: number): ReadonlyArray<number> | undefined => {
  const out = new Set<number>()
  for (const part of input.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part)
    if (m === null) return undefined
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    if (from < 1 || to < from || to > fileCount) return undefined
    for (let i = from; i <= to; i++) out.add(i - 1)
  }
  return [...out].sort((a, b) => a - b)
}
