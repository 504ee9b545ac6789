/**
 * A .torrent file for a metainfo we hold (one fetched from peers for a magnet link, say):
 * the info dict exactly as received, so the info-hash stays, with what the metainfo keeps
 * around it: trackers, web seeds, comment and dates, and a v2 torrent's piece layers (BEP 52:
 * with them the file opens without asking peers for the layers or hashing the data for them).
 */
import { keyFromBytes } from "../bencode/access.ts"
import { encode, type Encodable } from "../bencode/encode.ts"
import { fromHex } from "../bytes.ts"
import type { Metainfo } from "./model.ts"

const ascii = (s: string) => new TextEncoder().encode(s)

/** BEP 52 `piece layers`: each layer keyed by its file's raw pieces root. */
const pieceLayersDict = (layers: ReadonlyMap<string, Uint8Array>): Encodable => {
  const out: Record<string, Encodable> = {}
  for (const [root, layer] of layers) {
    const raw = fromHex(root)
    if (raw !== undefined) out[keyFromBytes(raw)] = layer
  }
  return out
}

/** Bencoded top-level dict with `info` spliced in as its raw bytes; the other keys as the metainfo has them. */
export const toTorrentFile = (meta: Metainfo): Uint8Array => {
  // Keys in byte order, as bencode wants them.
  const before: Array<[string, Encodable]> = []
  const first = meta.trackers[0]?.[0]
  if (first !== undefined) before.push(["announce", first])
  if (meta.trackers.length > 0) before.push(["announce-list", meta.trackers.map((tier) => [...tier])])
  if (meta.comment !== null) before.push(["comment", meta.comment])
  if (meta.createdBy !== null) before.push(["created by", meta.createdBy])
  if (meta.creationDate !== null) before.push(["creation date", meta.creationDate])
  if (meta.httpSeeds !== undefined && meta.httpSeeds.length > 0) before.push(["httpseeds", [...meta.httpSeeds]])
  const after: Array<[string, Encodable]> = []
  if (meta.pieceLayers.size > 0) after.push(["piece layers", pieceLayersDict(meta.pieceLayers)])
  if (meta.webSeeds.length > 0) after.push(["url-list", [...meta.webSeeds]])
  const parts: Array<Uint8Array> = [ascii("d")]
  for (const [key, value] of before) parts.push(encode(key), encode(value))
  parts.push(encode("info"), meta.infoBytes)
  for (const [key, value] of after) parts.push(encode(key), encode(value))
  parts.push(ascii("e"))
  const out = Buffer.concat(parts)
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}
