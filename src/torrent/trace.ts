/** A torrent's trace (docs/TRACE.md): opened from `TorrentConfig.trace`, on the torrent's clock. */
import type { Clock } from "effect"
import { toHex } from "../bytes.ts"
import type { Metainfo } from "../metainfo/model.ts"
import { openTorrentTrace, type TorrentTrace, traceMillis, type TraceTarget } from "../trace/recorder.ts"
export { traceRechoke } from "../trace/recorder.ts"
import { CLIENT_VERSION } from "../version.ts"

export const openTrace = (target: TraceTarget | undefined, meta: Metainfo, clock: Clock.Clock): TorrentTrace | null =>
  target === undefined ? null : openTorrentTrace(target, traceMillis(() => clock.currentTimeNanosUnsafe()), {
    infoHash: meta.infoHash === null ? "" : toHex(meta.infoHash),
    name: meta.name,
    pieces: meta.pieceCount,
    pieceLength: meta.pieceLength,
    size: meta.totalSize,
    client: CLIENT_VERSION
  })
