/** Turning torrents (running or pending) into the API's summaries and details. */
import { Effect, SubscriptionRef } from "effect"
import type { Torrent } from "../torrent/index.ts"
import type { FetchProgress, FileView, PeerView, Status, TorrentDetail, TorrentSummary } from "./model.ts"
import type { TorrentRecord } from "./state-store.ts"

/** A torrent the daemon knows: running, or waiting for its metadata, its piece layers or its (re-)check. */
export interface Entry {
  record: TorrentRecord
  torrent: Torrent | null
  /** Why there is no torrent yet, or null. */
  pending: "metadata" | "pieceLayers" | "checking" | null
  /** While `pending` is `metadata` or `pieceLayers`: the last progress the fetch told. */
  fetch: FetchProgress | null
  /** The last failure of a pending step. */
  error: string | null
}

export const summaryOf = (entry: Entry): Effect.Effect<TorrentSummary> =>
  Effect.gen(function*() {
    const { record, torrent } = entry
    const base = {
      id: record.id,
      infoHash: record.infoHash,
      name: record.name,
      directory: record.directory,
      addedAt: record.addedAt,
      uploadLimit: record.uploadLimit,
      downloadLimit: record.downloadLimit,
      trace: record.trace ?? false
    }
    if (torrent === null) {
      const fetching = entry.pending === "metadata" || entry.pending === "pieceLayers"
      // a paused fetch is stopped (service.ts): the torrent is paused, as Transmission shows it
      const status: Status = entry.error !== null ? "error" : fetching && record.paused ? "paused" : entry.pending ?? "metadata"
      const fetch = status === "metadata" || status === "pieceLayers" ? entry.fetch ?? { peers: 0, done: 0, total: 0 } : null
      return {
        ...base, status, fetch, progress: 0, wantedBytes: 0, totalSize: 0, verifiedBytes: 0, downloadRate: 0, uploadRate: 0,
        downloaded: 0, uploaded: 0, peers: 0, seeds: 0, eta: null, error: entry.error, pieceCount: 0, piecesVerified: 0
      }
    }
    const s = yield* SubscriptionRef.get(torrent.state)
    return {
      ...base,
      status: s.status,
      fetch: null,
      progress: s.progress,
      wantedBytes: s.wantedBytes,
      totalSize: torrent.metainfo.totalSize,
      verifiedBytes: s.verifiedBytes,
      downloadRate: s.downloadRate,
      uploadRate: s.uploadRate,
      downloaded: s.downloaded,
      uploaded: s.uploaded,
      peers: s.peers,
      seeds: s.seeds,
      eta: s.eta,
      error: s.error,
      pieceCount: s.pieceCount,
      piecesVerified: s.piecesVerified
    }
  })

export const filesOf = (torrent: Torrent): Effect.Effect<ReadonlyArray<FileView>> =>
  Effect.gen(function*() {
    const progress = yield* torrent.fileProgress
    const priorities = yield* torrent.priorities
    return torrent.metainfo.files.flatMap((f, index) =>
      f.padding ? [] : [{ index, path: f.path.join("/"), length: f.length, completed: progress[index] ?? 0, priority: priorities[index] ?? 1 }]
    )
  })

export const peersOf = (torrent: Torrent): Effect.Effect<ReadonlyArray<PeerView>> =>
  Effect.map(torrent.peers, (peers) =>
    peers.map((p) => ({
      address: p.key,
      client: p.client,
      transport: p.transport,
      encryption: p.encryption,
      downloadRate: p.downloadRate,
      uploadRate: p.uploadRate,
      downloaded: p.downloaded,
      uploaded: p.uploaded,
      progress: torrent.metainfo.pieceCount === 0 ? 1 : p.haveCount / torrent.metainfo.pieceCount,
      isSeed: p.isSeed,
      peerChoking: p.peerChoking,
      amChoking: p.amChoking,
      peerInterested: p.peerInterested,
      amInterested: p.amInterested
    })))

export const detailOf = (entry: Entry): Effect.Effect<TorrentDetail> =>
  Effect.gen(function*() {
    const summary = yield* summaryOf(entry)
    const torrent = entry.torrent
    if (torrent === null) return { ...summary, files: [], trackers: [], pieces: "" }
    const state = yield* SubscriptionRef.get(torrent.state)
    const bits = yield* torrent.bitfield
    return {
      ...summary,
      files: yield* filesOf(torrent),
      trackers: state.trackers.length > 0
        ? state.trackers
        : torrent.metainfo.trackers.flat().map((url) => ({ url, ok: false, peers: 0, message: null })),
      pieces: Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength).toString("base64")
    }
  })
