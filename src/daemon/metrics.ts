/**
 * `GET /metrics`: Prometheus text from Effect's own metrics (`effect/Metric`, formatted by
 * `PrometheusMetrics` with the `effect_torrent` prefix). Storage records piece verification
 * times and hash failures as they happen (storage/metrics.ts); the rest is sampled from the
 * torrents once a second here: bytes moved, peers by transport and encryption, torrents by
 * state.
 */
import { Effect, Layer, Metric, Schedule, SubscriptionRef } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { hashFailures, pieceVerifySeconds } from "../storage/index.ts"
import { Daemon } from "./service.ts"
import { summaryOf } from "./views.ts"

export const downloadedBytes = Metric.counter("downloaded_bytes_total", { description: "payload bytes downloaded", incremental: true })
export const uploadedBytes = Metric.counter("uploaded_bytes_total", { description: "payload bytes uploaded", incremental: true })
export const peersConnected = Metric.gauge("peers_connected", { description: "connected peers, by transport and encryption" })
export const torrentsByState = Metric.gauge("torrents", { description: "torrents, by state" })

const STATES = ["metadata", "pieceLayers", "checking", "downloading", "seeding", "paused", "error"] as const

/** Samples the torrents every second for as long as its scope lives. */
export const sampler = Layer.effectDiscard(Effect.gen(function*() {
  const daemon = yield* Daemon
  // Per torrent, the totals already counted (a torrent's counters restart when it is re-added).
  const seen = new Map<string, { down: number; up: number }>()
  const peerKinds = new Set<string>()
  const sample = Effect.gen(function*() {
    const entries = yield* daemon.entries
    const byState = new Map<string, number>(STATES.map((s) => [s, 0]))
    const peers = new Map<string, number>([...peerKinds].map((k) => [k, 0]))
    const live = new Set<string>()
    for (const entry of entries) {
      const summary = yield* summaryOf(entry)
      byState.set(summary.status, (byState.get(summary.status) ?? 0) + 1)
      if (entry.torrent === null) continue
      const state = yield* SubscriptionRef.get(entry.torrent.state)
      live.add(summary.infoHash)
      const before = seen.get(summary.infoHash) ?? { down: 0, up: 0 }
      const down = state.downloaded >= before.down ? state.downloaded - before.down : state.downloaded
      const up = state.uploaded >= before.up ? state.uploaded - before.up : state.uploaded
      if (down > 0) yield* Metric.update(downloadedBytes, down)
      if (up > 0) yield* Metric.update(uploadedBytes, up)
      seen.set(summary.infoHash, { down: state.downloaded, up: state.uploaded })
      for (const p of yield* entry.torrent.peers) {
        const kind = `${p.transport}\u0000${p.encryption}`
        peerKinds.add(kind)
        peers.set(kind, (peers.get(kind) ?? 0) + 1)
      }
    }
    for (const key of seen.keys()) if (!live.has(key)) seen.delete(key)
    for (const [state, count] of byState) yield* Metric.update(Metric.withAttributes(torrentsByState, { state }), count)
    if (peers.size === 0) peers.set("tcp\u0000none", 0)
    for (const [kind, count] of peers) {
      const [transport = "tcp", encryption = "none"] = kind.split("\u0000")
      yield* Metric.update(Metric.withAttributes(peersConnected, { transport, encryption }), count)
    }
  })
  // Storage's metrics appear in the registry on their first update: show them from the start.
  yield* Metric.update(hashFailures, 0)
  yield* Metric.value(pieceVerifySeconds)
  yield* sample
  yield* Effect.forkScoped(Effect.schedule(sample, Schedule.spaced("1 second")))
}))

export const metricsRoute = HttpRouter.add(
  "GET",
  "/metrics",
  Effect.map(PrometheusMetrics.format({ prefix: "effect_torrent" }), (body) =>
    HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
)
