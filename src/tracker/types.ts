import { Schema } from "effect"
import type { Address } from "../net/index.ts"

export type AnnounceEvent = "started" | "completed" | "stopped"

export interface AnnounceRequest {
  /** 20 bytes. */
  readonly infoHash: Uint8Array
  /** 20 bytes. */
  readonly peerId: Uint8Array
  /** Our listening TCP port. */
  readonly port: number
  readonly uploaded: number
  readonly downloaded: number
  readonly left: number
  /** Omitted for regular (periodic) announces. */
  readonly event?: AnnounceEvent
  readonly numwant?: number
  /** Unsigned 32-bit value identifying this client across IP changes; the service picks one if absent. */
  readonly key?: number
  /**
   * MSE/PE support, for HTTP trackers that filter peers by it: "supported" sends
   * `supportcrypto=1`, "required" adds `requirecrypto=1` (such a tracker then returns only
   * peers that support encryption). UDP announces have no field for it.
   */
  readonly crypto?: "supported" | "required"
  /**
   * Our IPv6 address, sent to HTTP trackers as `ipv6=` (BEP 7) so that one reached over IPv4
   * can list us to IPv6 peers. Ignored unless an IPv6 literal; UDP announces have no field for it.
   */
  readonly ipv6?: string
}

export interface AnnounceResponse {
  /** Seconds until the next regular announce. */
  readonly interval: number
  readonly minInterval?: number
  readonly peers: ReadonlyArray<Address>
  /** Seeders. */
  readonly complete?: number
  /** Leechers. */
  readonly incomplete?: number
  readonly warning?: string
  readonly trackerId?: string
}

export interface ScrapeEntry {
  readonly infoHash: Uint8Array
  /** Seeders. */
  readonly complete: number
  /** Completed downloads ever reported. */
  readonly downloaded: number
  /** Leechers. */
  readonly incomplete: number
}

/** The tracker answered with an explicit refusal (`failure reason`, or UDP action 3). */
export class TrackerFailure extends Schema.TaggedError<TrackerFailure>()("TrackerFailure", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `tracker ${this.url} refused: ${this.reason}`
  }
}

/** The tracker answered something that is not a valid response. */
export class TrackerProtocolError extends Schema.TaggedError<TrackerProtocolError>()("TrackerProtocolError", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `tracker ${this.url} sent an invalid response: ${this.detail}`
  }
}

/** No usable answer: network failure, timeout, HTTP error status. */
export class TrackerUnreachable extends Schema.TaggedError<TrackerUnreachable>()("TrackerUnreachable", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `tracker ${this.url} unreachable: ${this.detail}`
  }
}

/**
 * The request cannot be made: malformed URL, unsupported scheme, no scrape
 * counterpart (BEP 48), or invalid announce parameters (hash length, port).
 */
export class TrackerRequestError extends Schema.TaggedError<TrackerRequestError>()("TrackerRequestError", {
  url: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot query tracker ${this.url}: ${this.detail}`
  }
}

export type TrackerError = TrackerFailure | TrackerProtocolError | TrackerUnreachable | TrackerRequestError

/** Largest peer list we keep from one response; a tracker cannot make us hold more. */
export const MAX_PEERS_PER_RESPONSE = 2000
