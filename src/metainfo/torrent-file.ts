/**
 * A .torrent file for a metainfo we hold (one fetched from peers for a magnet link, say):
 * the info dict exactly as received, so the info-hash stays, with the trackers around it.
 */
import { encode } from "../bencode/encode.ts"
import type { Metainfo } from "./model.ts"

const ascii = (s: string) => new TextEncoder().encode(s)

/** Bencoded `{announce, announce-list, info}` with `info` spliced in as its raw bytes. */
export const toTorrentFile = (meta: Metainfo): Uint8Array => {
  // Keys in byte order: "announce" < "announce-list" < "info".
  const parts: Array<Uint8Array> = [ascii("d")]
  const first = meta.trackers[0]?.[0]
  if (first !== undefined) parts.push(encode("announce"), encode(first))
  if (meta.trackers.length > 0) parts.push(encode("announce-list"), encode(meta.trackers.map((tier) => [...tier])))
  parts.push(encode("info"), meta.infoBytes, ascii("e"))
  const out = Buffer.concat(parts)
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}
