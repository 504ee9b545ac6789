/**
 * When LSD announces what (BEP 14: each torrent every 5 minutes, at most one datagram a
 * minute), as a pure function of the torrents' due times.
 *
 * One datagram leaves at a time, once a torrent is due, then the sender waits
 * `minInterval`. A datagram carries the most overdue torrent and the other torrents of its
 * port due before the next datagram could leave (now + `minInterval`), most overdue first,
 * as many as fit in 1400 bytes. Taking those up to a minute early is what gathers torrents
 * started at about the same time into one datagram every 5 minutes, instead of each
 * dragging its own datagram (and the next torrent a minute late) forever.
 */
import { MAX_ANNOUNCE_BYTES } from "./codec.ts"

export interface DueTorrent {
  /** Lower-case hex info-hash. */
  readonly hash: string
  /** Port the torrent's client accepts connections on (the announce's `Port`). */
  readonly port: number
  /** When its next announce is due (ms). */
  readonly at: number
}

export type AnnouncePlan =
  | { readonly _tag: "Send"; readonly port: number; readonly hashes: ReadonlyArray<string> }
  /** Nothing due before `until` (ms), or no torrent at all (null): wait for then, or for a new torrent. */
  | { readonly _tag: "Wait"; readonly until: number | null }

/** Bytes of an announce beyond its `Infohash` lines (request line, Host, Port, cookie, end). */
const fixedBytes = (hostHeader: string, port: number, cookie: string): number =>
  `BT-SEARCH * HTTP/1.1\r\nHost: ${hostHeader}\r\nPort: ${port}\r\ncookie: ${cookie}\r\n\r\n\r\n`.length
const HASH_LINE_BYTES = "Infohash: \r\n".length + 40

/**
 * The next step at `now`, for `torrents` in the order they were added. `hostHeader` and
 * `cookie` size the datagram (see codec.ts).
 */
export const planAnnounce = (
  torrents: ReadonlyArray<DueTorrent>,
  now: number,
  minIntervalMs: number,
  hostHeader: string,
  cookie: string
): AnnouncePlan => {
  // stable: among equally due torrents, the order they were added
  const due = torrents.filter((t) => t.at <= now + minIntervalMs).sort((a, b) => a.at - b.at)
  const first = due[0]
  if (first === undefined || first.at > now) {
    const next = torrents.reduce<number | null>((m, t) => (m === null || t.at < m ? t.at : m), null)
    return { _tag: "Wait", until: next }
  }
  const room = Math.max(1, Math.floor((MAX_ANNOUNCE_BYTES - fixedBytes(hostHeader, first.port, cookie)) / HASH_LINE_BYTES))
  const hashes = due.filter((t) => t.port === first.port).slice(0, room).map((t) => t.hash)
  return { _tag: "Send", port: first.port, hashes }
}
