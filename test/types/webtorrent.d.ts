// The parts of webtorrent 3 the tests use (it ships no types).
declare module "webtorrent" {
  namespace WebTorrent {
    interface Options {
      dht?: boolean
      lsd?: boolean
      natUpnp?: boolean
      natPmp?: boolean
      utp?: boolean
      webSeeds?: boolean
      tracker?: boolean | object
      torrentPort?: number
      /** Protocol encryption: 0 off, 1 MSE with plaintext fallback (default), 2 MSE only. */
      secure?: 0 | 1 | 2
    }
    interface TorrentFile {
      readonly name: string
      readonly path: string
      readonly length: number
    }
    interface Torrent {
      readonly infoHash: string
      readonly torrentFile: Uint8Array
      readonly files: ReadonlyArray<TorrentFile>
      readonly numPeers: number
      readonly done: boolean
      readonly progress: number
      readonly uploaded: number
      readonly downloaded: number
      addPeer(peer: string): boolean
      on(event: "done" | "ready" | "metadata" | "infoHash", cb: () => void): this
      on(event: "error" | "warning", cb: (err: Error | string) => void): this
      on(event: "wire", cb: (wire: unknown, addr: string) => void): this
      once(event: "done" | "ready", cb: () => void): this
    }
    interface Instance {
      seed(input: string | string[], opts: object, cb: (torrent: Torrent) => void): Torrent
      add(torrentId: Uint8Array | string, opts: object, cb?: (torrent: Torrent) => void): Torrent
      address(): { address: string; port: number } | string | null
      destroy(cb?: (err?: Error) => void): void
      on(event: "error", cb: (err: Error) => void): this
      once(event: "listening", cb: () => void): this
    }
  }
  const WebTorrent: new (opts?: WebTorrent.Options) => WebTorrent.Instance
  export default WebTorrent
}
