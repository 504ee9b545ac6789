/**
 * Trackers: the `Tracker` service (HTTP BEP 3/7/23/48 and UDP BEP 15 behind
 * one announce/scrape) and the per-torrent announcer (BEP 12 tiers, intervals,
 * backoff, stopped on close).
 */
export { type Announcer, type AnnouncerOptions, makeAnnouncer, type TrackerStatus } from "./announcer.ts"
export { percentEncodeBytes, withQuery } from "./http-codec.ts"
export { Tracker, type TrackerConfig } from "./Tracker.ts"
export {
  type AnnounceEvent,
  type AnnounceRequest,
  type AnnounceResponse,
  MAX_PEERS_PER_RESPONSE,
  type ScrapeEntry,
  type TrackerError,
  TrackerFailure,
  TrackerProtocolError,
  TrackerRequestError,
  TrackerUnreachable
} from "./types.ts"
