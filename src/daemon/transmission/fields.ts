/**
 * Transmission's `torrent-get` fields, computed from our torrents (names and units as in
 * Transmission's rpc-spec: rates in bytes per second, dates in seconds since the epoch,
 * `eta` -1 when unknown, status 0 stopped / 2 checking / 4 downloading / 6 seeding).
 *
 * A torrent fetching what it needs before it opens (a magnet's info dict, a v2 torrent's piece
 * layers) is `4` downloading, as Transmission's own magnet is (libtransmission's
 * tr_torrentGetActivity: running and not done), not `2`: `2` means our data is being checked.
 * `metadataPercentComplete` is the info dict's fraction received while it is fetched (0 while
 * its size is unknown), 1 once the torrent has it, as Transmission reports it.
 */
import { Effect, SubscriptionRef } from "effect"
import { parseAddress } from "../../net/index.ts"
import type { Entry } from "../views.ts"
import { filesOf, peersOf, summaryOf } from "../views.ts"

export const STATUS = { stopped: 0, checkWait: 1, checking: 2, downloadWait: 3, downloading: 4, seedWait: 5, seeding: 6 } as const

/** Transmission's priorities (-1 low, 0 normal, 1 high) from ours (1 normal, 2 high; 0 = not wanted). */
const trPriority = (p: number) => (p === 2 ? 1 : 0)

/**
 * 0..1 of the info dict while a magnet fetches it, 1 once the daemon has it. A magnet whose
 * fetch failed has none (its record gets file priorities only with the metadata): 0.
 */
const metadataFraction = (entry: Entry) => {
  const f = entry.fetch
  // (paused too: the summary then says `paused`, the entry still waits for its info dict)
  if (entry.torrent === null && entry.pending === "metadata") return f === null || f.total === 0 ? 0 : Math.min(1, f.done / f.total)
  return entry.torrent === null && entry.record.magnet !== undefined && entry.record.priorities === undefined ? 0 : 1
}

/** Every field we answer, for one torrent; `torrent-get` picks the ones asked for. */
export const allFields = (entry: Entry): Effect.Effect<Record<string, unknown>> =>
  Effect.gen(function*() {
    const s = yield* summaryOf(entry)
    const torrent = entry.torrent
    const status = s.status === "paused" || s.status === "error"
      ? STATUS.stopped
      : s.status === "checking"
      ? STATUS.checking
      : s.status === "seeding"
      ? STATUS.seeding
      : STATUS.downloading
    const left = Math.max(0, s.wantedBytes - s.verifiedBytes)
    const files = torrent === null ? [] : yield* filesOf(torrent)
    const peers = torrent === null ? [] : yield* peersOf(torrent)
    const state = torrent === null ? null : yield* SubscriptionRef.get(torrent.state)
    const bits = torrent === null ? new Uint8Array(0) : yield* torrent.bitfield
    const trackerUrls = torrent === null ? [] : torrent.metainfo.trackers.flatMap((tier, t) => tier.map((url) => ({ url, tier: t })))
    // a peer's key is its host:port (formatAddress): parse it back
    const addressOf = (key: string) => {
      const parsed = parseAddress(key)
      return { address: parsed?.host ?? key, port: parsed?.port ?? 0 }
    }
    return {
      id: s.id,
      name: s.name,
      hashString: s.infoHash,
      status,
      error: s.error === null ? 0 : 3,
      errorString: s.error ?? "",
      percentDone: s.progress,
      metadataPercentComplete: metadataFraction(entry),
      recheckProgress: s.status === "checking" ? 0 : 1,
      rateDownload: Math.round(s.downloadRate),
      rateUpload: Math.round(s.uploadRate),
      totalSize: s.totalSize,
      sizeWhenDone: s.wantedBytes,
      leftUntilDone: left,
      haveValid: s.verifiedBytes,
      haveUnchecked: 0,
      desiredAvailable: left,
      eta: s.eta === null ? -1 : s.eta,
      downloadDir: s.directory,
      downloadedEver: s.downloaded,
      uploadedEver: s.uploaded,
      corruptEver: 0,
      uploadRatio: s.downloaded > 0 ? s.uploaded / s.downloaded : s.uploaded > 0 ? -2 : -1,
      addedDate: Math.floor(s.addedAt / 1000),
      isFinished: s.status === "seeding" && s.progress >= 1,
      isPrivate: torrent?.metainfo.private ?? false,
      isStalled: false,
      queuePosition: s.id,
      peersConnected: s.peers,
      peersGettingFromUs: peers.filter((p) => !p.amChoking && p.peerInterested).length,
      peersSendingToUs: peers.filter((p) => !p.peerChoking && p.amInterested).length,
      webseedsSendingToUs: 0,
      pieceCount: s.pieceCount,
      pieceSize: torrent?.metainfo.pieceLength ?? 0,
      pieces: Buffer.from(bits).toString("base64"),
      magnetLink: entry.record.magnet ?? `magnet:?xt=urn:btih:${s.infoHash}`,
      comment: torrent?.metainfo.comment ?? "",
      creator: torrent?.metainfo.createdBy ?? "",
      dateCreated: torrent?.metainfo.creationDate ?? 0,
      downloadLimit: s.downloadLimit === null ? 0 : Math.round(s.downloadLimit / 1024),
      downloadLimited: s.downloadLimit !== null,
      uploadLimit: s.uploadLimit === null ? 0 : Math.round(s.uploadLimit / 1024),
      uploadLimited: s.uploadLimit !== null,
      files: files.map((f) => ({ name: f.path, length: f.length, bytesCompleted: f.completed })),
      fileStats: files.map((f) => ({ bytesCompleted: f.completed, wanted: f.priority > 0, priority: trPriority(f.priority) })),
      wanted: files.map((f) => (f.priority > 0 ? 1 : 0)),
      priorities: files.map((f) => trPriority(f.priority)),
      peers: peers.map((p) => ({
        ...addressOf(p.address),
        clientName: p.client,
        progress: p.progress,
        rateToClient: Math.round(p.downloadRate),
        rateToPeer: Math.round(p.uploadRate),
        isEncrypted: p.encryption !== "none" && p.encryption !== "plaintext",
        isUTP: p.transport === "utp",
        clientIsChoked: p.amChoking,
        clientIsInterested: p.amInterested,
        peerIsChoked: p.peerChoking,
        peerIsInterested: p.peerInterested,
        isDownloadingFrom: !p.peerChoking && p.amInterested,
        isUploadingTo: !p.amChoking && p.peerInterested,
        flagStr: ""
      })),
      trackers: trackerUrls.map((t, id) => ({ id, announce: t.url, scrape: "", tier: t.tier })),
      trackerStats: trackerUrls.map((t, id) => {
        const st = state?.trackers.find((x) => x.url === t.url)
        return {
          id,
          announce: t.url,
          tier: t.tier,
          host: t.url,
          lastAnnounceSucceeded: st?.ok ?? false,
          lastAnnounceResult: st?.message ?? (st?.ok === true ? "Success" : ""),
          lastAnnouncePeerCount: st?.peers ?? 0,
          seederCount: -1,
          leecherCount: -1
        }
      })
    }
  })
