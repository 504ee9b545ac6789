/**
 * .torrent / info-dict parsing (BEP 3, 12, 19, 27, 47, 52). Pure and synchronous;
 * index.ts wraps it in Effect. Every rejection is a MetainfoError (see fail.ts).
 */
import { Result } from "effect"
import {
  type BencodeDict,
  decodePrefix,
  getBytes,
  getField,
  getInt,
  isDict,
  isInt,
  utf8
} from "../bencode/index.ts"
import type { RawEntry } from "./entries.ts"
import type { MetainfoError } from "./errors.ts"
import { readCreationDate, readHttpSeeds, readText, readTrackers, readWebSeeds } from "./extras.ts"
import { sha1, sha256, toHex } from "../bytes.ts"
import { invalid, toMetainfoError } from "./fail.ts"
import { layoutFiles } from "./layout.ts"
import { MAX_BENCODE_DEPTH, MAX_BENCODE_ELEMENTS, MAX_PIECE_LENGTH, MAX_PIECES, MIN_V2_PIECE_LENGTH } from "./limits.ts"
import type { Metainfo, TorrentVersion } from "./model.ts"
import { cleanComponent, decodeName } from "./paths.ts"
import { parseV1Files } from "./v1.ts"
import { parseFileTree, parsePieceLayers } from "./v2.ts"

/** What a magnet link (or other source) knows besides the info dict. */
export interface InfoDictExtras {
  readonly trackers?: ReadonlyArray<ReadonlyArray<string>>
  readonly webSeeds?: ReadonlyArray<string>
  readonly creationDate?: number | null
  readonly comment?: string | null
  readonly createdBy?: string | null
}

const decodeOptions = { maxDepth: MAX_BENCODE_DEPTH, maxElements: MAX_BENCODE_ELEMENTS }

interface InfoCore {
  readonly version: TorrentVersion
  readonly infoHash: Uint8Array | null
  readonly infoHashV2: Uint8Array | null
  readonly name: string
  readonly pieceLength: number
  readonly pieceCount: number
  readonly pieces: Uint8Array
  readonly entries: ReadonlyArray<RawEntry>
  readonly multiFile: boolean
  readonly private: boolean
}

const readPieceLength = (info: BencodeDict, v2: boolean): number => {
  const pl = getField(info, "piece length")
  if (pl === undefined) return invalid("InvalidPieceLength", "info dict has no 'piece length'")
  if (!isInt(pl)) return invalid("InvalidPieceLength", "'piece length' is not an integer")
  if (pl <= 0) return invalid("InvalidPieceLength", `piece length ${pl} is not positive`)
  if (pl > MAX_PIECE_LENGTH) return invalid("InvalidPieceLength", `piece length ${pl} exceeds the ${MAX_PIECE_LENGTH}-byte cap`)
  if (v2 && (pl < MIN_V2_PIECE_LENGTH || (pl & (pl - 1)) !== 0)) {
    return invalid("InvalidPieceLength", `v2 piece length ${pl} is not a power of two of at least 16 KiB`)
  }
  return pl
}

const readRawName = (info: BencodeDict): Uint8Array => {
  const alt = getBytes(info, "name.utf-8")
  if (alt !== undefined && utf8(alt) !== undefined && alt.length > 0) return alt
  const name = getField(info, "name")
  if (name === undefined) return invalid("InvalidName", "info dict has no 'name'")
  const bytes = getBytes(info, "name")
  if (bytes === undefined) return invalid("InvalidName", "'name' is not a string")
  return bytes
}

const sameFiles = (v1: ReadonlyArray<RawEntry>, v2: ReadonlyArray<RawEntry>, pieceLength: number) => {
  const real = v1.filter((e) => !e.padding)
  if (real.length !== v2.length) {
    invalid("HybridMismatch", `hybrid torrent lists ${real.length} v1 files but ${v2.length} v2 files`)
  }
  let offset = 0
  let j = 0
  for (const e of v1) {
    if (!e.padding) {
      const other = v2[j++]
      if (other === undefined || other.length !== e.length || other.path.join("/") !== e.path.join("/")) {
        invalid("HybridMismatch", `hybrid v1 file ${JSON.stringify(e.path.join("/"))} differs from the v2 file tree`)
      }
      if (e.length > 0 && offset % pieceLength !== 0) {
        invalid("HybridMismatch", `hybrid file ${JSON.stringify(e.path.join("/"))} is not aligned to a piece boundary`)
      }
    }
    offset += e.length
  }
}

/**
 * BEP 52 starts every file on a piece boundary. A pure v2 torrent's files get the padding
 * a hybrid lists explicitly, so v1, v2 and hybrid share one payload geometry: piece i
 * covers bytes [i * pieceLength, ...) of the padded payload, and padding is never written.
 * The last file is padded too, as libtorrent does (its hybrids list that padding, and it
 * asks for the last piece of a v2 torrent in whole blocks): every piece is full-sized.
 */
const withImplicitPadding = (entries: ReadonlyArray<RawEntry>, pieceLength: number): ReadonlyArray<RawEntry> => {
  const out: Array<RawEntry> = []
  entries.forEach((e) => {
    out.push(e)
    const tail = e.length % pieceLength
    if (tail !== 0) {
      const length = pieceLength - tail
      out.push({ path: [".pad", String(length)], length, attr: "p", padding: true, piecesRoot: null, symlink: null })
    }
  })
  return out
}

/** Validates an info dict. `infoBytes` are its exact bytes (for hashing); `nonCanonical` = unsorted keys inside it. */
const parseInfo = (info: BencodeDict, infoBytes: Uint8Array, nonCanonical: boolean): InfoCore => {
  // BEP 52: check the version before anything else.
  const metaVersion = getField(info, "meta version")
  if (metaVersion !== undefined && metaVersion !== 2) {
    invalid("UnsupportedVersion", `unsupported meta version ${isInt(metaVersion) ? metaVersion : "(not an integer)"}`)
  }
  const hasV2 = metaVersion === 2
  const hasV1 = getField(info, "pieces") !== undefined || !hasV2
  // libtorrent and BEP 52: a v2 info dict must be canonical (it may be re-encoded by peers).
  if (hasV2 && nonCanonical) invalid("NonCanonical", "v2 info dict has unsorted keys (non-canonical bencoding)")
  const pieceLength = readPieceLength(info, hasV2)
  const rawName = readRawName(info)
  const infoHash = hasV1 ? sha1(infoBytes) : null
  const infoHashV2 = hasV2 ? sha256(infoBytes) : null
  const hashHex = toHex(infoHash ?? infoHashV2 ?? new Uint8Array(0))
  const name = cleanComponent(decodeName(rawName)) ?? hashHex

  let entries: ReadonlyArray<RawEntry>
  let multiFile: boolean
  let pieces: Uint8Array = new Uint8Array(0)
  if (hasV2) {
    const tree = getField(info, "file tree")
    if (!isDict(tree)) return invalid("InvalidFileTree", "v2 info dict has no 'file tree' dictionary")
    const v2 = parseFileTree(tree)
    if (hasV1) {
      const v1 = parseV1Files(info, name)
      sameFiles(v1.entries, v2.entries, pieceLength)
      let j = 0
      entries = v1.entries.map((e) => (e.padding ? e : { ...e, piecesRoot: v2.entries[j++]?.piecesRoot ?? null }))
      multiFile = v1.multiFile
    } else {
      entries = withImplicitPadding(v2.entries, pieceLength)
      multiFile = v2.multiFile
    }
  } else {
    const v1 = parseV1Files(info, name)
    entries = v1.entries
    multiFile = v1.multiFile
  }

  let total = 0
  for (const e of entries) {
    if (e.length > Number.MAX_SAFE_INTEGER - total) invalid("InvalidLength", "total size exceeds 2^53-1 bytes")
    total += e.length
  }
  // Policy (libtorrent): nothing to download is not a usable torrent.
  if (total === 0) invalid("EmptyTorrent", "the torrent's total size is zero")

  let pieceCount: number
  if (hasV1) {
    const p = getField(info, "pieces")
    const bytes = getBytes(info, "pieces")
    if (p === undefined || bytes === undefined) return invalid("InvalidPieces", "'pieces' is missing or not a string")
    if (bytes.length % 20 !== 0) invalid("InvalidPieces", `'pieces' is ${bytes.length} bytes, not a multiple of 20`)
    pieceCount = Math.ceil(total / pieceLength)
    if (pieceCount > MAX_PIECES) invalid("LimitExceeded", `${pieceCount} pieces exceed the cap of ${MAX_PIECES}`)
    if (bytes.length / 20 !== pieceCount) {
      invalid("PieceCountMismatch", `${bytes.length / 20} piece hashes for ${total} bytes in ${pieceCount} pieces`)
    }
    pieces = bytes
  } else {
    pieceCount = entries.reduce((n, e) => (e.padding ? n : n + Math.ceil(e.length / pieceLength)), 0)
    if (pieceCount > MAX_PIECES) invalid("LimitExceeded", `${pieceCount} pieces exceed the cap of ${MAX_PIECES}`)
  }
  const version: TorrentVersion = hasV1 && hasV2 ? "hybrid" : hasV2 ? "v2" : "v1"
  const priv = getInt(info, "private") === 1
  return { version, infoHash, infoHashV2, name, pieceLength, pieceCount, pieces, entries, multiFile, private: priv }
}

const assemble = (
  core: InfoCore,
  infoBytes: Uint8Array,
  rest: Pick<Metainfo, "trackers" | "webSeeds" | "httpSeeds" | "creationDate" | "comment" | "createdBy" | "pieceLayers">
): Metainfo => {
  const { files, totalSize } = layoutFiles(core.entries, core.name, core.multiFile)
  return {
    version: core.version,
    infoHash: core.infoHash,
    infoHashV2: core.infoHashV2,
    infoBytes,
    name: core.name,
    pieceLength: core.pieceLength,
    pieceCount: core.pieceCount,
    pieces: core.pieces,
    files,
    totalSize,
    multiFile: core.multiFile,
    private: core.private,
    ...rest
  }
}

const httpSeedsOf = (top: BencodeDict): Pick<Metainfo, "httpSeeds"> => {
  const seeds = readHttpSeeds(top)
  return seeds.length === 0 ? {} : { httpSeeds: seeds }
}

const severalFiles = (core: InfoCore) => core.multiFile && core.entries.filter((e) => !e.padding).length > 1

const bencodeFailure = (message: string) => invalid("InvalidBencode", message)

/** Parses a whole .torrent file. Bad input never throws (a bug in the parser would). */
export const parseMetainfoResult = (bytes: Uint8Array): Result.Result<Metainfo, MetainfoError> => {
  try {
    const decoded = decodePrefix(bytes, decodeOptions)
    if (Result.isFailure(decoded)) return bencodeFailure(decoded.failure.message)
    const { value: top, topLevelSpans, unsorted } = decoded.success
    if (!isDict(top)) return invalid("NotADict", "not a torrent file: the top level is not a dictionary")
    const info = getField(top, "info")
    const span = topLevelSpans.get("info")
    if (info === undefined || span === undefined) return invalid("InvalidInfo", "the torrent has no 'info' dictionary")
    if (!isDict(info)) return invalid("InvalidInfo", "'info' is not a dictionary")
    // A copy: the model keeps these bytes (BEP 9 serves them) independent of the caller's buffer.
    const infoBytes = bytes.slice(span.start, span.end)
    const core = parseInfo(info, infoBytes, unsorted.some((p) => p >= span.start && p < span.end))
    const pieceLayers = core.version === "v1"
      ? new Map<string, Uint8Array>()
      : parsePieceLayers(getField(top, "piece layers"), core.entries, core.pieceLength)
    return Result.succeed(assemble(core, infoBytes, {
      trackers: readTrackers(top),
      webSeeds: readWebSeeds(top, severalFiles(core)),
      ...httpSeedsOf(top),
      creationDate: readCreationDate(top),
      comment: readText(top, "comment"),
      createdBy: readText(top, "created by"),
      pieceLayers
    }))
  } catch (e) {
    return Result.fail(toMetainfoError(e))
  }
}

/** Parses a bare info dict (BEP 9 metadata from peers); the info-hashes are computed over `infoBytes`. Bad input never throws. */
export const parseInfoDictResult = (
  infoBytes: Uint8Array,
  extras: InfoDictExtras = {}
): Result.Result<Metainfo, MetainfoError> => {
  try {
    const decoded = decodePrefix(infoBytes, decodeOptions)
    if (Result.isFailure(decoded)) return bencodeFailure(decoded.failure.message)
    const { value, end, unsorted } = decoded.success
    if (end !== infoBytes.length) invalid("InvalidBencode", `${infoBytes.length - end} trailing byte(s) after the info dict`)
    if (!isDict(value)) return invalid("InvalidInfo", "info is not a dictionary")
    const bytes = infoBytes.slice()
    const core = parseInfo(value, bytes, unsorted.length > 0)
    return Result.succeed(assemble(core, bytes, {
      trackers: extras.trackers ?? [],
      webSeeds: extras.webSeeds ?? [],
      creationDate: extras.creationDate ?? null,
      comment: extras.comment ?? null,
      createdBy: extras.createdBy ?? null,
      pieceLayers: new Map()
    }))
  } catch (e) {
    return Result.fail(toMetainfoError(e))
  }
}

