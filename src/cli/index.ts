/**
 * The CLI's reusable pieces, for commands added later (download, seed, simulate):
 * error reporting, formatting, the progress bar, reading a .torrent argument.
 */
export { CliInputError, describeError, describePlatformError, failureLine, fsError, runCliMain } from "./errors.ts"
export { oneLine } from "./format.ts"
export { type BareUnit, formatBytes, formatEta, formatRate, parseDuration, parseRate, parseSize } from "./units.ts"
export { type InfoJson, magnetJson, torrentJson } from "./info-render.ts"
export { isMagnetArgument, readTorrentFile } from "./info.ts"
export { makeProgressBar, type ProgressBar, renderProgress } from "./progress.ts"
