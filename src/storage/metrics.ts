/**
 * Storage's metrics (Effect's `Metric`, in the default registry): the daemon's `/metrics`
 * shows them with the `effect_torrent_` prefix.
 */
import { Metric } from "effect"

/** From a piece's last block to its hash check's result (in a worker thread, or the end of the incremental hash). */
export const pieceVerifySeconds = Metric.histogram("piece_verify_seconds", {
  description: "time from a piece's last block to the result of its hash check",
  boundaries: Metric.exponentialBoundaries({ start: 0.0005, factor: 2, count: 16 })
})

/** Completed pieces whose SHA-1 did not match. */
export const hashFailures = Metric.counter("hash_failures_total", {
  description: "completed pieces that failed their hash check",
  incremental: true
})
