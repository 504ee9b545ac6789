/**
 * Pure piece <-> file geometry. A `Layout` is a validated view of a `Metainfo`:
 * once built, every index and offset computed from it is in range.
 */
import * as NodePath from "node:path"
import type { Metainfo, TorrentFile } from "../metainfo/model.ts"
import { pieceSize } from "../metainfo/pieces.ts"
import { makeV2Check, type V2Check } from "./v2.ts"

export interface Layout {
  readonly pieceLength: number
  readonly pieceCount: number
  readonly totalSize: number
  readonly files: ReadonlyArray<TorrentFile>
  /** Concatenated 20-byte SHA-1 hashes, `20 * pieceCount` bytes; empty for pure v2. */
  readonly hashes: Uint8Array
  /** BEP 52 merkle checks (v2 and hybrid); a hybrid's pieces must pass both. */
  readonly v2: V2Check | null
}

/** A contiguous run of bytes inside one file. `offset` is relative to the start of the requested range. */
export interface Span {
  readonly file: number
  readonly fileOffset: number
  readonly offset: number
  readonly length: number
  readonly padding: boolean
}

export type LayoutResult =
  | { readonly _tag: "Ok"; readonly layout: Layout }
  | { readonly _tag: "Invalid"; readonly reason: "InvalidMetainfo" | "Unsupported"; readonly message: string }

const invalid = (message: string): LayoutResult => ({ _tag: "Invalid", reason: "InvalidMetainfo", message })
const isCount = (n: number) => Number.isSafeInteger(n) && n >= 0

/**
 * Re-checks the parser's invariants we rely on (defence in depth: a wrong offset here
 * would write one file's bytes into another) and caps the piece length, which sizes
 * every per-piece allocation.
 */
export const makeLayout = (meta: Metainfo, maxPieceLength: number): LayoutResult => {
  const { pieceLength, pieceCount, totalSize, files } = meta
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) return invalid(`invalid piece length ${pieceLength}`)
  if (pieceLength > maxPieceLength) {
    return invalid(`piece length ${pieceLength} exceeds the limit of ${maxPieceLength} bytes`)
  }
  if (!isCount(totalSize)) return invalid(`invalid total size ${totalSize}`)
  if (pieceCount !== Math.ceil(totalSize / pieceLength)) {
    return invalid(`piece count ${pieceCount} does not match total size ${totalSize} / piece length ${pieceLength}`)
  }
  const v1Hashes = meta.version === "v2" ? 0 : 20 * pieceCount
  if (meta.pieces.length !== v1Hashes) {
    return invalid(`expected ${v1Hashes} bytes of piece hashes, got ${meta.pieces.length}`)
  }
  let offset = 0
  for (const [i, f] of files.entries()) {
    if (!isCount(f.length) || f.offset !== offset) return invalid(`file ${i} has an inconsistent offset or length`)
    offset += f.length
  }
  if (offset !== totalSize) return invalid(`file lengths sum to ${offset}, expected ${totalSize}`)
  let v2: V2Check | null = null
  if (meta.version !== "v1") {
    const check = makeV2Check(meta)
    // A hybrid without its piece layers (from a v1 magnet) is checked by SHA-1 alone.
    if (typeof check === "string" && meta.version === "v2") return { _tag: "Invalid", reason: "Unsupported", message: check }
    if (typeof check !== "string") v2 = check
  }
  return { _tag: "Ok", layout: { pieceLength, pieceCount, totalSize, files, hashes: meta.pieces, v2 } }
}

export { pieceSize }

export const pieceHash = (layout: Layout, piece: number): Uint8Array =>
  layout.hashes.subarray(20 * piece, 20 * piece + 20)

/** Index of the file holding payload byte `pos` (0 <= pos < totalSize); zero-length files never hold a byte. */
const fileAt = (files: ReadonlyArray<TorrentFile>, pos: number): number => {
  // largest i with files[i].offset <= pos: files before it sharing its offset are empty
  let lo = 0
  let hi = files.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    const f = files[mid]
    if (f !== undefined && f.offset <= pos) lo = mid
    else hi = mid - 1
  }
  return lo
}

/** The file spans covering payload bytes [start, start + length), in order. */
export const spans = (layout: Layout, start: number, length: number): Array<Span> => {
  const out: Array<Span> = []
  if (length <= 0) return out
  let i = fileAt(layout.files, start)
  let pos = start
  const end = start + length
  while (pos < end) {
    const f = layout.files[i]
    if (f === undefined) break // unreachable for validated layouts and in-range requests
    const fileEnd = f.offset + f.length
    if (fileEnd > pos) {
      const take = Math.min(end, fileEnd) - pos
      out.push({ file: i, fileOffset: pos - f.offset, offset: pos - start, length: take, padding: f.padding })
      pos += take
    }
    i++
  }
  return out
}

export const pieceSpans = (layout: Layout, piece: number): Array<Span> =>
  spans(layout, piece * layout.pieceLength, pieceSize(layout, piece))

/** Bytes of a piece that land in real (non-padding) files. */
export const payloadBytes = (layout: Layout, piece: number): number =>
  pieceSpans(layout, piece).reduce((n, s) => (s.padding ? n : n + s.length), 0)

/**
 * Which pieces overlap at least one wanted, non-padding file. Pieces made only of
 * padding count as wanted (nothing of them is ever written).
 */
export const wantedPieces = (layout: Layout, wanted: ReadonlyArray<boolean> | undefined): Array<boolean> => {
  const out: Array<boolean> = []
  for (let p = 0; p < layout.pieceCount; p++) {
    const real = pieceSpans(layout, p).filter((s) => !s.padding)
    out.push(real.length === 0 || real.some((s) => wanted === undefined || wanted[s.file] === true))
  }
  return out
}

/** Name of the folder (inside the download directory) that holds our own state. */
export const stateDirName = ".effect-torrent"

const badComponent = (c: string) =>
  c === "" || c === "." || c === ".." || c.includes("/") || c.includes("\\") || c.includes("\0")

/**
 * Absolute path of a torrent file inside `root`, or an explanation of why it is refused.
 * The parser already sanitises components; this re-checks so that no torrent, however
 * built, can make us write outside the directory or into our state folder.
 */
export const resolveInside = (
  root: string,
  components: ReadonlyArray<string>
): { readonly _tag: "Ok"; readonly path: string } | { readonly _tag: "Refused"; readonly message: string } => {
  const shown = components.join("/")
  if (components.length === 0) return { _tag: "Refused", message: "empty file path" }
  const bad = components.find(badComponent)
  if (bad !== undefined) return { _tag: "Refused", message: `path ${JSON.stringify(shown)} has an unsafe component` }
  if (components[0] === stateDirName) {
    return { _tag: "Refused", message: `path ${JSON.stringify(shown)} would write into ${stateDirName}/` }
  }
  const resolvedRoot = NodePath.resolve(root)
  const path = NodePath.resolve(resolvedRoot, ...components)
  if (!isInside(resolvedRoot, path)) {
    return { _tag: "Refused", message: `path ${JSON.stringify(shown)} leaves the download directory` }
  }
  return { _tag: "Ok", path }
}

/** True when `path` is strictly below `root` (both absolute, normalised). */
export const isInside = (root: string, path: string): boolean => {
  const rel = NodePath.relative(root, path)
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${NodePath.sep}`) && !NodePath.isAbsolute(rel)
}
