/**
 * The torrent's side of its web seeds: they start with its active part (`TorrentConfig.webSeeds`)
 * and a ban ends them as it ends a peer's session.
 */
import type { PeerKey } from "../ids.ts"
import type { Metainfo } from "../metainfo/index.ts"
import type { TorrentLink } from "../peer/index.ts"
import type { WebSeedHost } from "../webseed/index.ts"

export const makeWebSeedSlots = () => {
  const stops = new Map<PeerKey, () => void>()
  return {
    /** The torrent banned `key`: a web seed of that URL stops. */
    stop: (key: PeerKey): void => stops.get(key)?.(),
    host: (link: TorrentLink, meta: Metainfo, isBanned: (key: PeerKey) => boolean): WebSeedHost => ({
      link,
      meta,
      isBanned,
      register: (key, stop) => {
        stops.set(key, stop)
        return () => stops.delete(key)
      }
    })
  }
}

export type WebSeedSlots = ReturnType<typeof makeWebSeedSlots>
