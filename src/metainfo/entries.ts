/**
 * A file entry as read from the info dict, before layout (offsets, name prefix,
 * collision renames). Shared by the v1 `files` list and the v2 `file tree`.
 */
import { type BencodeDict, type BencodeValue, getBytes, getField, getList, isBytes, isInt, isList } from "../bencode/index.ts"
import { invalid } from "./fail.ts"
import { decodeName, MAX_PATH_BYTES, MAX_PATH_COMPONENTS, sanitizeComponent } from "./paths.ts"

export interface RawEntry {
  /** Sanitised components relative to the torrent root (no name prefix). */
  readonly path: ReadonlyArray<string>
  readonly length: number
  readonly attr: string
  readonly padding: boolean
  readonly piecesRoot: Uint8Array | null
  /** Sanitised symlink target relative to the torrent root, for attr "l". */
  readonly symlink: ReadonlyArray<string> | null
}

/** Old BitComet convention (before BEP 47's attr "p"); libtorrent honours it too. */
const BITCOMET_PAD_PREFIX = "_____padding_file_"

export const readAttr = (dict: BencodeDict): string => {
  const a = getBytes(dict, "attr")
  return a === undefined ? "" : decodeName(a)
}

export const isPadding = (attr: string, path: ReadonlyArray<string>): boolean =>
  attr.includes("p") || (path[path.length - 1] ?? "").startsWith(BITCOMET_PAD_PREFIX)

/** A non-negative safe-integer length (the decoder already rejects |n| > 2^53-1). */
export const readLength = (value: BencodeValue | undefined, what: string): number => {
  if (value === undefined) return invalid("InvalidLength", `${what} has no length`)
  if (!isInt(value)) return invalid("InvalidLength", `${what} length is not an integer`)
  if (value < 0) return invalid("InvalidLength", `${what} has a negative length (${value})`)
  return value
}

/** Reads a list of byte-string components and sanitises each; rejects malformed lists. */
export const readPathList = (value: BencodeValue | undefined, what: string): ReadonlyArray<string> => {
  if (value === undefined) return invalid("InvalidPath", `${what} has no path`)
  if (!isList(value)) return invalid("InvalidPath", `${what} path is not a list`)
  if (value.length === 0) return invalid("InvalidPath", `${what} has an empty path`)
  if (value.length > MAX_PATH_COMPONENTS) {
    return invalid("InvalidPath", `${what} path has more than ${MAX_PATH_COMPONENTS} components`)
  }
  const out: Array<string> = []
  let size = 0
  for (const c of value) {
    if (!isBytes(c)) return invalid("InvalidPath", `${what} path element is not a string`)
    size += c.length + 1
    out.push(sanitizeComponent(decodeName(c)))
  }
  if (size > MAX_PATH_BYTES) return invalid("InvalidPath", `${what} path is longer than ${MAX_PATH_BYTES} bytes`)
  return out
}

/** `path.utf-8` when it is a well-formed list of strings, else `path`. */
export const preferUtf8Path = (entry: BencodeDict): BencodeValue | undefined => {
  const alt = getList(entry, "path.utf-8")
  return alt !== undefined && alt.length > 0 && alt.every(isBytes) ? alt : getField(entry, "path")
}

export const readSymlink = (entry: BencodeDict, attr: string, what: string): ReadonlyArray<string> | null =>
  attr.includes("l") ? readPathList(getField(entry, "symlink path"), `symlink ${what}`) : null
