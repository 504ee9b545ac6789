/** What a peer session can be tuned with, and the defaults. */
import { CLIENT_VERSION } from "../version.ts"
import { DEFAULT_PIPELINE } from "./pipeline.ts"

export interface SessionOptions {
  /** A request unanswered this long goes back to the picker (and may go to another peer). */
  readonly requestTimeoutMillis: number
  /** No block for this long while we wait for some: the peer is snubbing us. */
  readonly snubTimeoutMillis: number
  /** Send a keep-alive when we were silent this long (BEP 3 suggests every 2 minutes). */
  readonly keepAliveMillis: number
  /** Drop the peer when it was silent this long. */
  readonly idleTimeoutMillis: number
  /** Our own pipeline cap (the peer's `reqq` may lower it). */
  readonly maxPipeline: number
  /** Requests from the peer we queue before rejecting/ignoring more (our advertised `reqq`). */
  readonly maxUploadQueue: number
  /** Dropped requests tolerated before we call it a flood and disconnect. */
  readonly maxViolations: number
  /** Client name and version sent in the extended handshake. */
  readonly clientVersion: string
  /** Our listening port, advertised in the extended handshake (`p`). */
  readonly listenPort: number | null
}

export const DEFAULT_SESSION_OPTIONS: SessionOptions = {
  requestTimeoutMillis: 30_000,
  snubTimeoutMillis: 60_000,
  keepAliveMillis: 90_000,
  idleTimeoutMillis: 180_000,
  maxPipeline: DEFAULT_PIPELINE.max,
  maxUploadQueue: 250,
  maxViolations: 500,
  clientVersion: CLIENT_VERSION,
  listenPort: null
}
