import type { Effect } from "effect"
import type { PeerKey, PieceIndex } from "../ids.ts"
import type { HashRange } from "../metainfo/index.ts"
import type { Throttle } from "../ratelimit/index.ts"
import type { Picker } from "../scheduler/picker.ts"
import type { TorrentStorage } from "../storage/types.ts"
import type { TorrentTrace } from "../trace/recorder.ts"
import type { Message } from "../wire/index.ts"
import type { HashAsker } from "./hash-budget.ts"

/** A block of a piece: `length` bytes from `begin`. */
export interface BlockRef {
  readonly piece: PieceIndex
  readonly begin: number
  readonly length: number
}

/**
 * Live statistics of one peer session, read by the choker and the UI.
 * Mutated only by the session that owns it.
 */
export interface PeerStats {
  readonly key: PeerKey
  client: string
  /** Peer is choking us / we are choking the peer. */
  peerChoking: boolean
  amChoking: boolean
  /** Peer is interested in us / we are interested in the peer. */
  peerInterested: boolean
  amInterested: boolean
  snubbed: boolean
  downloadRate: number
  uploadRate: number
  downloaded: number
  uploaded: number
  haveCount: number
  isSeed: boolean
  connectedAt: number
  inflight: number
  pipelineDepth: number
  /** Where the peer accepts connections: the dialled address, or its BEP 10 `p` for incoming ones. */
  listenAddress: { readonly host: string; readonly port: number } | null
  /** BEP 21: the peer only uploads (it has all it wants). */
  uploadOnly: boolean
  /** What carries the connection ("tcp" until another transport sets its own). */
  transport: string
  /** The connection's encryption ("none" until MSE sets "rc4" or "plaintext-negotiated"). */
  encryption: string
}

/** What the torrent can do to a live session (the session registers one of these). */
export interface PeerLink {
  readonly stats: PeerStats
  /** Queue a message for the peer (never blocks; the session's writer drains the queue). */
  readonly send: (message: Message) => void
  /** Another peer delivered this block first (endgame): forget our request and cancel it on the wire. */
  readonly cancelRequest: (block: BlockRef) => void
  /** We verified a piece: advertise it, and refresh our interest. */
  readonly pieceVerified: (piece: number) => void
  /** Every wanted piece is verified: tell the peer we only upload now (BEP 21). */
  readonly uploadOnly: () => void
  /** The choker decided; the session sends choke/unchoke when it changes. */
  readonly setChoked: (choked: boolean) => void
  /** There may be new blocks to request (a piece failed, a peer left). */
  readonly wake: () => void
  /**
   * Housekeeping, once a second (the torrent calls it for all sessions): rates, request
   * timeouts, snubbing, keep-alive, and ending a session whose peer went silent.
   */
  readonly tick: () => void
  /**
   * Send an extension message by name, with the peer's id for it; false when the peer
   * did not negotiate that extension.
   */
  readonly sendExtended: (name: string, payload: Uint8Array) => boolean
  /** Ask the session to end (ban, limits, shutdown). */
  readonly disconnect: (reason: "Banned" | "Shutdown", detail: string) => void
}

/**
 * What a session can do to its torrent. The picker and storage are shared by all of
 * the torrent's sessions; JavaScript runs one fiber step at a time, so each synchronous
 * picker call is atomic.
 */
export interface TorrentLink {
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly pieceCount: number
  readonly pieceLength: number
  readonly totalSize: number
  readonly picker: Picker<PeerKey>
  readonly storage: TorrentStorage
  /** Rate limits (global and per torrent combined): asked before bytes move. */
  readonly uploadThrottle: Throttle
  readonly downloadThrottle: Throttle
  /** Deterministic random source (seeded from Effect's Random). */
  readonly random: () => number
  readonly register: (link: PeerLink) => void
  /** The live session for a peer key, if any (to cancel endgame duplicates there). */
  readonly linkOf: (key: PeerKey) => PeerLink | undefined
  /** Blocks went back to the pool: every session should try to request again. */
  readonly wakeAll: () => void
  readonly unregister: (key: PeerKey) => void
  /**
   * A piece completed its hash check: applied at once (picker, endgame cancels, `have` to
   * every peer); returns what is left to run (`Effect.void` unless events back up or the
   * torrent just completed).
   */
  readonly onPieceVerified: (piece: PieceIndex) => Effect.Effect<void>
  /**
   * A piece failed its hash check; `contributors` sent its blocks. `evidence`: who sent which
   * block (by index) and the bytes received, for the smart ban (src/torrent/smart-ban.ts).
   */
  readonly onPieceFailed: (
    piece: PieceIndex,
    contributors: ReadonlySet<PeerKey>,
    evidence?: { readonly senders: ReadonlyArray<PeerKey | undefined>; readonly data: Uint8Array }
  ) => Effect.Effect<void>
  readonly onDownloaded: (bytes: number) => void
  readonly onUploaded: (bytes: number) => void
  /** Everything wanted is verified (we upload only). */
  readonly isComplete: () => boolean
  /** The info dict exactly as in the .torrent (served over ut_metadata). */
  readonly metadata: Uint8Array
  /**
   * BEP 52: the hashes answering a hash request, or why we reject it (torrent/hash-answers.ts).
   * A leaf request below the piece layer reads pieces back, which `mayRead` false refuses;
   * every request spends from the asker's budget (hash-budget.ts).
   */
  readonly answerHashes: (range: HashRange, asker: HashAsker) => Effect.Effect<Uint8Array | string>
  /** BEP 27: no PEX, no DHT. */
  readonly isPrivate: boolean
  /** An incoming peer told us where it listens (BEP 10 `p`). */
  readonly learnedListenAddress: (key: PeerKey, address: { readonly host: string; readonly port: number }) => void
  /** Addresses a peer told us about (PEX); `flags` are BEP 11's (0x01: prefers encryption, 0x04: speaks uTP). */
  readonly addPeers: (addresses: ReadonlyArray<{ readonly host: string; readonly port: number; readonly flags?: number }>, source: string) => Effect.Effect<void>
  /** Whether we are currently allowed to unchoke this peer on connect (before the first rechoke). */
  readonly initialUnchoke: (key: PeerKey) => boolean
  /** Storage failed (disk full, permissions): the torrent stops with this error. */
  readonly onStorageError: (error: unknown) => Effect.Effect<void>
  /**
   * Runs `effect` in a fiber owned by the torrent, so the session's reader need not wait
   * for it (a completed piece's hash check and disk write). Ends with the torrent.
   */
  readonly background: (effect: Effect.Effect<void>) => Effect.Effect<void>
  readonly log: (level: "debug" | "info" | "warning", message: string) => Effect.Effect<void>
  /** The torrent's trace (docs/TRACE.md), or null: sessions then trace nothing. */
  readonly trace: TorrentTrace | null
}
