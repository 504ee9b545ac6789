/**
 * Where a web seed keeps each byte, as URLs.
 *
 * BEP 19: a multi-file torrent's URL names the folder holding the torrent's `name`
 * (`URL/name/path/to/file`; the parser already ended it with `/`); a single-file URL names
 * the file itself, or a folder (ending in `/`) holding a file called `name`.
 * BEP 17: `URL?info_hash=…&piece=N&ranges=first-last`, the range inclusive and within the piece.
 */
import type { Metainfo } from "../metainfo/index.ts"
import { percentEncodeBytes, withQuery } from "../tracker/index.ts"

const encodePath = (components: ReadonlyArray<string>): string => components.map(encodeURIComponent).join("/")

/** BEP 19: the URL of file `index` of the torrent. */
export const fileUrl = (base: string, meta: Metainfo, index: number): string => {
  const file = meta.files[index]
  if (file === undefined) return base
  if (meta.multiFile) return base + encodePath(file.path)
  return base.endsWith("/") ? base + encodeURIComponent(meta.name) : base
}

/** BEP 17: the URL asking for `length` bytes from `begin` of a piece of `pieceSize` bytes. */
export const pieceUrl = (base: string, infoHash: Uint8Array, piece: number, begin: number, length: number, pieceSize: number): string => {
  const params = [`info_hash=${percentEncodeBytes(infoHash)}`, `piece=${piece}`]
  // A whole piece needs no ranges (libtorrent leaves them out too).
  if (begin !== 0 || length !== pieceSize) params.push(`ranges=${begin}-${begin + length - 1}`)
  return withQuery(base, params)
}
