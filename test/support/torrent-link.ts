/**
 * A `TorrentLink` for tests that drive a session's parts directly (the message handlers, a
 * live session on one socket): the torrent's own fields from its metainfo, and callbacks that
 * do nothing, which a test replaces where it records or asserts.
 */
import { Effect } from "effect"
import type { Metainfo } from "../../src/metainfo/index.ts"
import type { TorrentLink } from "../../src/peer/index.ts"
import { unlimited } from "../../src/ratelimit/index.ts"
import type { TorrentStorage } from "../../src/storage/index.ts"
import { hashAnswers } from "../../src/torrent/hash-answers.ts"

export const testTorrentLink = (
  torrent: { readonly infoHash: Uint8Array; readonly metainfo: Metainfo },
  picker: TorrentLink["picker"],
  storage: TorrentStorage,
  overrides: Partial<TorrentLink>
): TorrentLink => {
  const meta = torrent.metainfo
  return {
    infoHash: torrent.infoHash,
    peerId: new Uint8Array(20),
    pieceCount: meta.pieceCount,
    pieceLength: meta.pieceLength,
    totalSize: meta.totalSize,
    picker,
    storage,
    uploadThrottle: unlimited,
    downloadThrottle: unlimited,
    random: () => 0.5,
    register: () => {},
    linkOf: () => undefined,
    wakeAll: () => {},
    unregister: () => {},
    onPieceVerified: () => Effect.void,
    onPieceFailed: () => Effect.void,
    onDownloaded: () => {},
    onUploaded: () => {},
    isComplete: () => false,
    metadata: new Uint8Array(0),
    answerHashes: hashAnswers(meta, storage),
    isPrivate: false,
    learnedListenAddress: () => {},
    addPeers: () => Effect.void,
    initialUnchoke: () => false,
    onStorageError: (error) => Effect.die(error),
    background: (effect) => effect,
    log: () => Effect.void,
    trace: null,
    ...overrides
  }
}
