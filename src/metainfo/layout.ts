/** Turns raw entries into the model's files: name prefix, offsets, unique on-disk paths, symlink targets. */
import type { RawEntry } from "./entries.ts"
import { invalid } from "./fail.ts"
import type { TorrentFile } from "./model.ts"
import { makePathAllocator } from "./paths.ts"

export const layoutFiles = (
  entries: ReadonlyArray<RawEntry>,
  name: string,
  multiFile: boolean
): { readonly files: ReadonlyArray<TorrentFile>; readonly totalSize: number } => {
  const prefix = multiFile ? [name] : []
  const alloc = makePathAllocator()
  let offset = 0
  const placed = entries.map((e) => {
    if (e.length > Number.MAX_SAFE_INTEGER - offset) invalid("InvalidLength", "total size exceeds 2^53-1 bytes")
    let path: ReadonlyArray<string> = [...prefix, ...e.path]
    if (!e.padding) {
      const r = alloc.add(path)
      if ("error" in r) return invalid(r.error.startsWith("too many") ? "LimitExceeded" : "PathConflict", r.error)
      path = r.path
    }
    const file = {
      path,
      length: e.length,
      offset,
      padding: e.padding,
      attr: e.attr,
      piecesRoot: e.piecesRoot
    }
    offset += e.length
    return { file, entry: e }
  })
  const files = placed.map(({ entry, file }): TorrentFile => {
    if (entry.symlink === null) return file
    // BEP 47: targets are relative to the torrent root. Compatibility (libtorrent):
    // when that names nothing, try relative to the link's own directory.
    const rooted = [...prefix, ...entry.symlink]
    const local = [...file.path.slice(0, -1), ...entry.symlink]
    const symlinkPath = !alloc.isFileOrDir(rooted) && alloc.isFileOrDir(local) ? local : rooted
    return { ...file, symlinkPath }
  })
  return { files, totalSize: offset }
}
