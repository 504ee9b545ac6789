import { type Effect, type Scope, Semaphore } from "effect"
import type { EncryptionPolicy } from "../mse/index.ts"
import type { Address } from "../net/index.ts"
import type { PeerDialer, SessionOptions, TransportMemory } from "../peer/index.ts"
import type { Throttle } from "../ratelimit/index.ts"
import type { WebSeedStarter } from "../webseed/index.ts"
import type { TorrentTrace, TraceTarget } from "../trace/recorder.ts"

/**
 * The client-wide connection limits, shared by every torrent: a `connections` permit for
 * each peer connection, from its dial or accept to its end; a `halfOpen` permit for each
 * outgoing one until its handshake ends. The dialler waits on them, so a freed permit, in
 * any torrent, is what lets it go on.
 */
export interface ConnectionBudget {
  readonly connections: Semaphore.Semaphore
  readonly halfOpen: Semaphore.Semaphore
}

export const makeConnectionBudget = (maxConnections: number, maxHalfOpen: number): ConnectionBudget => ({
  connections: Semaphore.makeUnsafe(maxConnections),
  halfOpen: Semaphore.makeUnsafe(maxHalfOpen)
})

/** What a peer source (tracker announcer, DHT, PEX) gets from its torrent. */
export interface SwarmHooks {
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly port: number
  readonly isPrivate: boolean
  readonly trackers: ReadonlyArray<ReadonlyArray<string>>
  /** Payload bytes this session and bytes still wanted: what trackers are told. */
  readonly stats: Effect.Effect<{ readonly uploaded: number; readonly downloaded: number; readonly left: number }>
  /** Resolves when every wanted piece is verified (for the `completed` announce). */
  readonly completed: Effect.Effect<void>
  readonly addPeers: (addresses: ReadonlyArray<Address>, source: string) => Effect.Effect<void>
  readonly reportTracker: (url: string, ok: boolean, peers: number, message: string | null) => Effect.Effect<void>
  /** The torrent's trace, if it is traced. */
  readonly trace?: TorrentTrace
}

/** Starts a peer source; it runs until its scope closes (pause, remove, shutdown). */
export type PeerSource = (hooks: SwarmHooks) => Effect.Effect<void, never, Scope.Scope>

export interface TorrentConfig {
  readonly directory: string
  readonly peerId: Uint8Array
  /** Port we accept connections on, announced to trackers. */
  readonly port: number
  /** Connections for this torrent. */
  readonly maxPeers: number
  readonly budget: ConnectionBudget
  /** Opens outgoing peer connections: the transport seam (TCP, uTP, an encrypting wrapper; see peer/dialer.ts). */
  readonly dial: PeerDialer
  readonly handshakeTimeoutMillis: number
  /** Per file (Metainfo.files order); absent = all. */
  readonly wantedFiles?: ReadonlyArray<boolean>
  readonly sequential: boolean
  readonly uploadSlots: number
  readonly session: SessionOptions
  readonly peerSources: ReadonlyArray<PeerSource>
  /** Starts the torrent's web seeds (BEP 19/17) with its active part; absent = web seeds off. */
  readonly webSeeds?: WebSeedStarter
  /** Addresses to dial from the start (e.g. `--peer`, magnet `x.pe`). */
  readonly initialPeers: ReadonlyArray<Address>
  readonly onCheckProgress?: (checked: number, total: number) => Effect.Effect<void>
  readonly uploadThrottle: Throttle
  readonly downloadThrottle: Throttle
  /** Where storage keeps the resume record (default: inside `directory`). */
  readonly resumeDirectory?: string
  /** Open without connecting to peers (`resume` starts). */
  readonly startPaused?: boolean
  /** Which transport worked with which peer (client-wide): PEX reads and feeds it (flag 0x04). */
  readonly transportMemory?: TransportMemory
  /** How connections to peers open (MSE/PE or plaintext); see `ClientConfig.encryption`. */
  readonly encryption: EncryptionPolicy
  /** Record what the wire says (docs/TRACE.md); absent: nothing is traced. */
  readonly trace?: TraceTarget
}
