/** BEP 52 file tree and piece layers. */
import { type BencodeDict, type BencodeValue, getBytes, getField, isBytes, isDict, keyBytes } from "../bencode/index.ts"
import type { RawEntry } from "./entries.ts"
import { readAttr, readLength, readSymlink } from "./entries.ts"
import { toHex } from "../bytes.ts"
import { invalid } from "./fail.ts"
import { MAX_FILE_TREE_DEPTH, MAX_FILES } from "./limits.ts"
import { pieceLayerRoot } from "./merkle.ts"
import { decodeName, MAX_PATH_BYTES, sanitizeComponent } from "./paths.ts"

export interface V2Layout {
  readonly entries: ReadonlyArray<RawEntry>
  /** False only for a tree holding exactly one file at its root. */
  readonly multiFile: boolean
}

const isAllZero = (b: Uint8Array) => b.every((x) => x === 0)

const readLeaf = (leaf: BencodeDict, path: ReadonlyArray<string>): RawEntry => {
  const what = `file ${JSON.stringify(path.join("/"))}`
  const attr = readAttr(leaf)
  // Policy (libtorrent): v2 padding is implicit, an explicit pad entry is malformed.
  if (attr.includes("p")) invalid("InvalidFileTree", `${what} is marked as a padding file in the v2 file tree`)
  const symlink = readSymlink(leaf, attr, what)
  const rawLength = getField(leaf, "length")
  const length = symlink !== null && rawLength === undefined ? 0 : readLength(rawLength, what)
  let piecesRoot: Uint8Array | null = null
  if (length > 0) {
    const root = getField(leaf, "pieces root")
    if (root === undefined) invalid("InvalidPiecesRoot", `${what} has no pieces root`)
    if (!isBytes(root) || root.length !== 32) return invalid("InvalidPiecesRoot", `${what} pieces root is not 32 bytes`)
    // Policy (libtorrent): an all-zero root is a placeholder, never a real hash.
    if (isAllZero(root)) invalid("InvalidPiecesRoot", `${what} has an all-zero pieces root`)
    piecesRoot = root
  }
  return { path, length, attr, padding: false, piecesRoot, symlink }
}

export const parseFileTree = (tree: BencodeDict): V2Layout => {
  const entries: Array<RawEntry> = []
  // Explicit stack (no recursion); keys visited in byte order = the canonical encoded order.
  // (JS object key order is NOT byte order: integer-like keys come first.)
  const walk = (node: BencodeDict, prefix: ReadonlyArray<string>, depth: number, bytes: number) => {
    if (depth > MAX_FILE_TREE_DEPTH) invalid("LimitExceeded", `file tree deeper than ${MAX_FILE_TREE_DEPTH}`)
    for (const key of Object.keys(node).sort()) {
      if (key === "") invalid("InvalidFileTree", "file tree has an entry with an empty name")
      const child = node[key]
      const raw = keyBytes(key)
      const path = [...prefix, sanitizeComponent(decodeName(raw))]
      const size = bytes + raw.length + 1
      if (size > MAX_PATH_BYTES) invalid("InvalidPath", `file tree path longer than ${MAX_PATH_BYTES} bytes`)
      if (!isDict(child)) return invalid("InvalidFileTree", `file tree entry ${JSON.stringify(path.join("/"))} is not a dictionary`)
      const leaf = getField(child, "")
      if (leaf !== undefined) {
        if (!isDict(leaf)) invalid("InvalidFileTree", `file ${JSON.stringify(path.join("/"))} properties are not a dictionary`)
        if (Object.keys(child).length !== 1) {
          invalid("InvalidFileTree", `file ${JSON.stringify(path.join("/"))} also has directory entries`)
        }
        if (entries.length >= MAX_FILES) invalid("LimitExceeded", `more than ${MAX_FILES} files`)
        if (isDict(leaf)) entries.push(readLeaf(leaf, path))
      } else {
        walk(child, path, depth + 1, size)
      }
    }
  }
  walk(tree, [], 1, 0)
  if (entries.length === 0) invalid("NoFiles", "the file tree holds no files")
  const only = entries[0]
  const multiFile = !(entries.length === 1 && only !== undefined && only.path.length === 1)
  return { entries, multiFile }
}

/**
 * Validates `piece layers` (outside the info dict) against the files' pieces roots.
 * Missing layers are accepted (like a magnet: they can be fetched from peers);
 * a layer that is malformed, of the wrong size, hashes to another root, or matches
 * no file is rejected.
 */
export const parsePieceLayers = (
  value: BencodeValue | undefined,
  entries: ReadonlyArray<RawEntry>,
  pieceLength: number
): ReadonlyMap<string, Uint8Array> => {
  const out = new Map<string, Uint8Array>()
  if (value === undefined) return out
  if (!isDict(value)) return invalid("InvalidPieceLayer", "'piece layers' is not a dictionary")
  const layers = value
  const lengthByRoot = new Map<string, number>()
  for (const e of entries) if (e.piecesRoot !== null) lengthByRoot.set(toHex(e.piecesRoot), e.length)
  for (const key of Object.keys(layers).sort()) {
    const root = keyBytes(key)
    if (root.length !== 32) invalid("InvalidPieceLayer", `piece layer key is ${root.length} bytes, not a 32-byte root`)
    const hex = toHex(root)
    const layer = getBytes(layers, key)
    if (layer === undefined) return invalid("InvalidPieceLayer", `piece layer ${hex} is not a byte string`)
    if (layer.length % 32 !== 0) invalid("InvalidPieceLayer", `piece layer ${hex} length is not a multiple of 32`)
    const length = lengthByRoot.get(hex)
    // Policy (libtorrent): a layer that belongs to no file is an inconsistency.
    if (length === undefined) return invalid("InvalidPieceLayer", `piece layer ${hex} matches no file's pieces root`)
    const expected = Math.ceil(length / pieceLength)
    if (layer.length / 32 !== expected) {
      invalid("InvalidPieceLayer", `piece layer ${hex} has ${layer.length / 32} hashes, the file needs ${expected}`)
    }
    if (toHex(pieceLayerRoot(layer, pieceLength)) !== hex) {
      invalid("InvalidPieceLayer", `piece layer ${hex} does not hash to its pieces root`)
    }
    out.set(hex, layer)
  }
  return out
}
