/** BEP 3 single/multi-file layouts with BEP 47 attributes. */
import { type BencodeDict, getField, getList, isDict } from "../bencode/index.ts"
import { isPadding, preferUtf8Path, type RawEntry, readAttr, readLength, readPathList, readSymlink } from "./entries.ts"
import { invalid } from "./fail.ts"
import { MAX_FILES } from "./limits.ts"

export interface V1Layout {
  readonly entries: ReadonlyArray<RawEntry>
  readonly multiFile: boolean
}

/** `nameComponent` is the sanitised name, the single file's path. */
export const parseV1Files = (info: BencodeDict, nameComponent: string): V1Layout => {
  const files = getField(info, "files")
  const length = getField(info, "length")
  if (files === undefined) {
    const attr = readAttr(info)
    const symlink = readSymlink(info, attr, "file")
    const size = symlink !== null && length === undefined ? 0 : readLength(length, "file")
    const path = [nameComponent]
    return {
      entries: [{ path, length: size, attr, padding: isPadding(attr, path), piecesRoot: null, symlink }],
      multiFile: false
    }
  }
  if (length !== undefined) invalid("InvalidInfo", "info dict has both 'length' and 'files'")
  const list = getList(info, "files")
  if (list === undefined) return invalid("InvalidInfo", "'files' is not a list")
  if (list.length === 0) return invalid("NoFiles", "the torrent's file list is empty")
  if (list.length > MAX_FILES) return invalid("LimitExceeded", `more than ${MAX_FILES} files`)
  const entries: Array<RawEntry> = []
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]
    const what = `file #${i}`
    if (!isDict(entry)) return invalid("InvalidInfo", `${what} is not a dictionary`)
    const attr = readAttr(entry)
    const symlink = readSymlink(entry, attr, what)
    const rawLength = getField(entry, "length")
    const size = symlink !== null && rawLength === undefined ? 0 : readLength(rawLength, what)
    const rawPath = preferUtf8Path(entry)
    // Lenient like libtorrent: a BEP 47 pad file needs no real path, it is never written.
    const path = rawPath === undefined && attr.includes("p") ? [".pad", String(size)] : readPathList(rawPath, what)
    entries.push({ path, length: size, attr, padding: isPadding(attr, path), piecesRoot: null, symlink })
  }
  return { entries, multiFile: true }
}
