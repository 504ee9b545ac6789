/**
 * What the message handlers (messages.ts, extensions.ts) get from their session: its state,
 * its torrent, its options, and the session's own actions (send, end, fill the pipeline).
 */
import type { Effect } from "effect"
import type { Message } from "../wire/index.ts"
import type { PeerError } from "./errors.ts"
import type { TorrentLink } from "./link.ts"
import type { SessionOptions } from "./options.ts"
import type { SessionState } from "./session-state.ts"

export interface SessionContext {
  readonly s: SessionState
  readonly torrent: TorrentLink
  readonly options: SessionOptions
  readonly send: (message: Message) => void
  readonly end: (reason: PeerError["reason"], detail: string) => void
  readonly fill: () => void
  /** Send a reply the peer's own message provoked: waits while the outbox is full. */
  readonly reply: (message: Message) => Effect.Effect<void>
  /** The upload queue (`s.uploads`) gained blocks: wake the writer. */
  readonly signalUploads: () => void
  readonly updateInterest: () => void
  readonly unchoke: () => void
  readonly now: () => number
  /**
   * What must happen to a block the picker accepted (store it, or act on the piece it
   * completed) wrapped so that it is not lost when the session ends before it ran: the
   * session then hands it to the torrent's background work instead (peer-session.ts).
   */
  readonly mustRun: (effect: Effect.Effect<void>) => Effect.Effect<void>
  /** Bytes of a frame a handler keeps past its call: a copy when the connection lends its read buffer. */
  readonly keep: (bytes: Uint8Array) => Uint8Array
}
