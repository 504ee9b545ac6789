/** The real `bittorrent-tracker` server from npm, on 127.0.0.1, serving HTTP and UDP. */
import Server from "bittorrent-tracker/server"
import { Effect } from "effect"

export interface RunningTracker {
  readonly server: Server
  /** http://127.0.0.1:PORT/announce */
  readonly http: string
  /** udp://127.0.0.1:PORT */
  readonly udp: string
}

export const bittorrentTracker = Effect.acquireRelease(
  Effect.callback<RunningTracker, Error>((resume) => {
    const server = new Server({ udp: true, http: true, ws: false, stats: false })
    server.on("error", (err) => resume(Effect.fail(err)))
    // A plain listen(0, "127.0.0.1") fails with EINVAL on the udp6 socket.
    server.listen(0, { http: "127.0.0.1", udp: "127.0.0.1", udp6: "::1" }, () => {
      const http = server.http?.address()
      const udp = server.udp?.address()
      if (typeof http !== "object" || http === null || udp === undefined) {
        resume(Effect.fail(new Error("tracker did not report its ports")))
        return
      }
      resume(Effect.succeed({ server, http: `http://127.0.0.1:${http.port}/announce`, udp: `udp://127.0.0.1:${udp.port}` }))
    })
  }),
  ({ server }) => Effect.callback<void>((resume) => server.close(() => resume(Effect.void)))
)
