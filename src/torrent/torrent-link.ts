/**
 * The `TorrentLink` a torrent gives its peer sessions (peer/link.ts): the picker and
 * storage they share, and the callbacks through which a session reports verified and
 * failed pieces, bytes moved, addresses learned and storage errors.
 */
import { Effect, PubSub } from "effect"
import type { PeerKey } from "../ids.ts"
import type { TorrentLink } from "../peer/index.ts"
import { afterVerified, onPieceFailed } from "./bans.ts"
import { type TorrentCore, wakeAll } from "./core.ts"
import { hashAnswers } from "./hash-answers.ts"
import { markComplete, publish } from "./progress.ts"
import type { TorrentEvent } from "./state.ts"

export interface TorrentLinkParts {
  readonly random: () => number
  /** A verified piece, for the file readers waiting on it (files.ts). */
  readonly pieceVerified: (piece: number) => void
  readonly addPeers: TorrentLink["addPeers"]
  /** Storage failed: the torrent stops (progress.ts `failStorage`). */
  readonly fail: (detail: string) => Effect.Effect<void>
  readonly background: TorrentLink["background"]
}

export const makeTorrentLink = (core: TorrentCore, parts: TorrentLinkParts): TorrentLink => {
  const { meta, picker, links, config, trace } = core
  return {
    infoHash: core.infoHashBytes,
    peerId: config.peerId,
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    totalSize: meta.totalSize,
    picker,
    storage: core.storage,
    random: parts.random,
    uploadThrottle: config.uploadThrottle,
    downloadThrottle: config.downloadThrottle,
    register: (l) => { links.set(l.stats.key, l) },
    unregister: (key) => { links.delete(key) },
    linkOf: (key: PeerKey) => links.get(key),
    wakeAll: () => wakeAll(core),
    onPieceVerified: (piece) => {
      const verified = picker.pieceVerified(piece)
      if (trace?.options.pieces === true) trace.event(undefined, { type: "piece-verified", index: piece, from: [...verified.contributors] })
      parts.pieceVerified(piece)
      for (const c of verified.cancels) links.get(c.peer)?.cancelRequest(c.block)
      for (const l of links.values()) l.pieceVerified(piece)
      const event: TorrentEvent = { _tag: "PieceVerified", piece }
      // Once per piece: no effect allocated unless the event queue is full or we are done.
      const published = PubSub.publishUnsafe(core.events, event) ? Effect.void : publish(core, event)
      const judged = afterVerified(core, piece, published)
      return picker.isComplete() ? Effect.andThen(judged, markComplete(core)) : judged
    },
    onPieceFailed: (piece, contributors, evidence) => onPieceFailed(core, piece, contributors, evidence),
    onDownloaded: (bytes) => core.downloadMeter.add(bytes, core.now()),
    onUploaded: (bytes) => core.uploadMeter.add(bytes, core.now()),
    isComplete: () => picker.isComplete(),
    metadata: meta.infoBytes,
    answerHashes: hashAnswers(meta, core.storage),
    learnedListenAddress: (key, address) => core.book.alias(key, address),
    isPrivate: meta.private,
    addPeers: parts.addPeers,
    initialUnchoke: () => {
      let unchoked = 0
      for (const l of links.values()) if (!l.stats.amChoking) unchoked++
      return unchoked < config.uploadSlots
    },
    onStorageError: (error) => parts.fail(error instanceof Error ? error.message : String(error)),
    background: parts.background,
    trace,
    log: (level, message) =>
      level === "debug" ? Effect.logDebug(message) : level === "info" ? Effect.logInfo(message) : Effect.logWarning(message)
  }
}
