/** The 20-byte names a torrent goes by on the wire (BEP 52: handshakes, trackers, the DHT). */
import type { Metainfo } from "./model.ts"

type Hashes = Pick<Metainfo, "infoHash" | "infoHashV2">

/**
 * The 20 bytes a torrent is known by in handshakes, tracker announces and DHT lookups:
 * the SHA-1 info-hash for v1 and hybrid torrents, the SHA-256 one truncated to 20 bytes
 * for a pure v2 torrent (BEP 52). Also takes a `Magnet`, which has the same two fields.
 *
 * **Example**
 *
 * ```ts
 * const key = toHex(wireInfoHash(meta)) // what a tracker and a peer call this torrent
 * ```
 */
export const wireInfoHash = (m: Hashes): Uint8Array =>
  m.infoHash ?? (m.infoHashV2 === null ? new Uint8Array(20) : m.infoHashV2.subarray(0, 20))

/**
 * Every 20-byte name a peer may use for this torrent in its handshake: a hybrid is reached
 * by its SHA-1 hash and by its truncated SHA-256 one.
 */
export const wireInfoHashes = (m: Hashes): ReadonlyArray<Uint8Array> =>
  m.infoHash !== null && m.infoHashV2 !== null ? [m.infoHash, m.infoHashV2.subarray(0, 20)] : [wireInfoHash(m)]
