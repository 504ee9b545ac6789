/** The real `bittorrent-tracker` server from npm, on 127.0.0.1 (or ::1), serving HTTP and UDP. */
import Server from "bittorrent-tracker/server"
import { Effect } from "effect"

export interface RunningTracker {
  readonly server: Server
  /** http://127.0.0.1:PORT/announce */
  readonly http: string
  /** udp://127.0.0.1:PORT */
  readonly udp: string
}

/**
 * `host` "::1": HTTP on [::1] (its compact replies carry IPv6 peers in `peers6`, BEP 7) and
 * UDP on [::1] beside 127.0.0.1; the URLs name [::1].
 */
export const bittorrentTrackerOn = (host: "127.0.0.1" | "::1") => Effect.acquireRelease(
  Effect.callback<RunningTracker, Error>((resume) => {
    const server = new Server({ udp: true, http: true, ws: false, stats: false })
    server.on("error", (err) => resume(Effect.fail(err)))
    // A plain listen(0, "127.0.0.1") fails with EINVAL on the udp6 socket.
    server.listen(0, { http: host, udp: "127.0.0.1", udp6: "::1" }, () => {
      const http = server.http?.address()
      // with port 0 the IPv4 and IPv6 UDP sockets get ports of their own
      const udp = host === "::1" ? server.udp6?.address() : server.udp?.address()
      if (typeof http !== "object" || http === null || udp === undefined) {
        resume(Effect.fail(new Error("tracker did not report its ports")))
        return
      }
      const name = host === "::1" ? "[::1]" : host
      resume(Effect.succeed({ server, http: `http://${name}:${http.port}/announce`, udp: `udp://${name}:${udp.port}` }))
    })
  }),
  ({ server }) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
)

export const bittorrentTracker = bittorrentTrackerOn("127.0.0.1")

/**
 * Tells `tracker` (HTTP) that a peer on 127.0.0.1:`port` seeds the torrent named `infoHash`
 * (its 20-byte wire name), as that peer's own announce would: the tracker then names it to
 * whoever asks.
 */
export const announceSeed = (tracker: RunningTracker, infoHash: Uint8Array, port: number) =>
  Effect.promise(() => {
    const escaped = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("")
    const query = `info_hash=${escaped(infoHash)}&peer_id=${escaped(new Uint8Array(20).fill(7))}&port=${port}&uploaded=0&downloaded=0&left=0&compact=1&event=started`
    return fetch(`${tracker.http}?${query}`).then((r) => r.arrayBuffer())
  }).pipe(Effect.asVoid)
