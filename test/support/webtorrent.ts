/**
 * WebTorrent (a real client nobody here wrote) as a seeder or leecher on 127.0.0.1,
 * with everything that would leave loopback turned off (DHT, LSD, UPnP, NAT-PMP).
 * Its encryption is left at the default (`secure` unset, i.e. 1): every outgoing
 * connection opens with MSE/PE and never falls back to plaintext, so it must meet ours.
 */
import { Effect } from "effect"
import WebTorrent from "webtorrent"

export interface WebTorrentPeer {
  readonly client: WebTorrent.Instance
  readonly port: number
}

export const webTorrentClient = Effect.acquireRelease(
  Effect.callback<WebTorrentPeer>((resume) => {
    const client = new WebTorrent({ dht: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false, torrentPort: 0 })
    const ready = () => {
      const address = client.address()
      if (address !== null && typeof address === "object" && address.port > 0) resume(Effect.succeed({ client, port: address.port }))
      else setTimeout(ready, 20)
    }
    client.once("listening", ready)
  }),
  ({ client }) => Effect.callback<void>((resume) => client.destroy(() => resume(Effect.void)))
)

/** Seeds `paths` (files or a directory) and returns the .torrent bytes WebTorrent made. */
export const seed = (client: WebTorrent.Instance, paths: string | ReadonlyArray<string>, opts: { announce?: ReadonlyArray<string>; name?: string; pieceLength?: number } = {}) =>
  Effect.callback<Uint8Array>((resume) => {
    client.seed(paths as string[], { announce: [...(opts.announce ?? [])], ...(opts.name === undefined ? {} : { name: opts.name }), ...(opts.pieceLength === undefined ? {} : { pieceLength: opts.pieceLength }) }, (torrent) => {
      resume(Effect.succeed(new Uint8Array(torrent.torrentFile)))
    })
  })
