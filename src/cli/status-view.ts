/**
 * How a running torrent is shown: a one-line live view on a terminal, plain lines for
 * logs and pipes, JSON lines for scripts. Pure functions of `TorrentState`.
 */
import type { TorrentState } from "../torrent/index.ts"
import { oneLine } from "./format.ts"
import { formatBytes, formatEta, formatRate } from "./units.ts"

const percent = (state: TorrentState): string => `${(state.progress * 100).toFixed(1)}%`

const statusWord = (state: TorrentState): string => state.status === "downloading" ? "" : `[${state.status}] `

/** The live line, fitted to `columns`. */
export const renderStatusLine = (state: TorrentState, columns: number): string => {
  const width = 20
  const filled = Math.round(state.progress * width)
  const bar = `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`
  const line = `${statusWord(state)}${bar} ${percent(state).padStart(6)}  ` +
    `down ${formatRate(state.downloadRate).padStart(11)}  up ${formatRate(state.uploadRate).padStart(11)}  ` +
    `peers ${state.peers} (${state.seeds} seeds)  ETA ${formatEta(state.eta)}  ` +
    `pieces ${state.piecesVerified}/${state.pieceCount}`
  return line.length < columns ? line : line.slice(0, Math.max(0, columns - 1))
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
