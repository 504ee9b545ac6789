/**
 * Pure half of torrent creation: option validation, piece-length choice,
 * file ordering, incremental piece hashing and the .torrent dict layout.
 * The file-system walk and the read loop live in create.ts.
 */
import { createHash, type Hash } from "node:crypto"
import { type Effect, Schema } from "effect"
import type { Encodable } from "../bencode/index.ts"
import { compareBytes } from "../bytes.ts"
import { isPowerOfTwo } from "./merkle.ts"
import { CREATED_BY } from "../version.ts"


export const MIN_PIECE_LENGTH = 16 * 1024
/** Upper bound of the automatic choice. */
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024
/** Upper bound of an explicit choice (libtorrent refuses larger pieces). */
export const MAX_PIECE_LENGTH = 128 * 1024 * 1024
/** The automatic choice keeps the piece count at or below this (1000-2000 when the size allows). */
export const TARGET_MAX_PIECES = 2000

export interface CreateProgress {
  /** Payload bytes hashed so far (all files, in torrent order). */
  readonly hashedBytes: number
  readonly totalBytes: number
}

/** v1: SHA-1 pieces only; v2: merkle trees only (BEP 52); hybrid: both, over the same data. */
export type CreateFormat = "v1" | "v2" | "hybrid"

export interface CreateOptions {
  /** "v1" (default), "v2" (BEP 52 only) or "hybrid" (both, v1 files padded to piece boundaries). */
  readonly format?: CreateFormat | undefined
  /** Power of two in [16 KiB, 128 MiB]; chosen by `choosePieceLength` when absent. */
  readonly pieceLength?: number | undefined
  /** Announce tiers (BEP 12). The first URL also becomes `announce`; `announce-list` is written when there are 2+ URLs. */
  readonly trackers?: ReadonlyArray<ReadonlyArray<string>> | undefined
  /** BEP 19 `url-list`. */
  readonly webSeeds?: ReadonlyArray<string> | undefined
  readonly private?: boolean | undefined
  readonly comment?: string | undefined
  /** Defaults to `effect-torrent/<version>`; "" omits the key. */
  readonly createdBy?: string | undefined
  /** Seconds since the epoch. Absent by default so the same input always gives the same bytes. */
  readonly creationDate?: number | undefined
  /** Overrides the torrent name (default: the last component of the input path). */
  readonly name?: string | undefined
  /** Called after every chunk read; keep it cheap (the CLI throttles its redraws). */
  readonly onProgress?: ((progress: CreateProgress) => Effect.Effect<void>) | undefined
}

/** Anything that stops a torrent from being created, with the path it concerns. */
export class CreateTorrentError extends Schema.TaggedError<CreateTorrentError>()("CreateTorrentError", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return this.path === "" ? this.detail : `${this.path}: ${this.detail}`
  }
}

/** A payload file in torrent order. */
export interface SourceFile {
  /** Where to read it (may be a symlink, which is followed). */
  readonly absolutePath: string
  /** Components below the torrent root; empty for a single-file torrent. */
  readonly path: ReadonlyArray<string>
  readonly length: number
}

/**
 * Smallest power of two in [16 KiB, 16 MiB] that keeps the piece count at or
 * below 2000 (so 1000-2000 pieces for payloads between 16 MiB and 32 GiB; fewer
 * for small payloads, more above 32 GiB). Same spirit as mktorrent/libtorrent:
 * few enough hashes for a small .torrent, small enough pieces for fast swarming.
 */
export const choosePieceLength = (totalSize: number): number => {
  let length = MIN_PIECE_LENGTH
  while (length < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalSize / length) > TARGET_MAX_PIECES) length *= 2
  return length
}

export const isValidPieceLength = (n: number): boolean =>
  Number.isSafeInteger(n) && n >= MIN_PIECE_LENGTH && n <= MAX_PIECE_LENGTH && isPowerOfTwo(n)

const utf8 = new TextEncoder()

/** Byte order of the UTF-8 encodings (not JS UTF-16 order, which differs above U+FFFF). */
export const compareNames = (a: string, b: string): number => compareBytes(utf8.encode(a), utf8.encode(b))

/**
 * Torrent file order: path components compared one by one in UTF-8 byte order,
 * so a directory's files stay together ("a/z" < "a-b", unlike a flat string sort).
 */
export const comparePaths = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const d = compareNames(a[i] ?? "", b[i] ?? "")
    if (d !== 0) return d
  }
  return a.length - b.length
}

const isUrl = (s: string): boolean => URL.canParse(s)

/** Checks everything that does not need the file system; returns the normalised tiers. */
export const validateOptions = (
  options: CreateOptions
): { readonly tiers: ReadonlyArray<ReadonlyArray<string>> } | CreateTorrentError => {
  const fail = (detail: string) => new CreateTorrentError({ path: "", detail })
  if (options.pieceLength !== undefined && !isValidPieceLength(options.pieceLength)) {
    return fail(`invalid piece length ${options.pieceLength}: must be a power of two between 16 KiB and 128 MiB`)
  }
  const tiers = (options.trackers ?? []).map((tier) => tier.filter((url) => url.trim() !== "")).filter((t) =>
    t.length > 0
  )
  for (const url of tiers.flat()) if (!isUrl(url)) return fail(`invalid tracker URL ${JSON.stringify(url)}`)
  for (const url of options.webSeeds ?? []) if (!isUrl(url)) return fail(`invalid web seed URL ${JSON.stringify(url)}`)
  if (options.creationDate !== undefined && !(Number.isSafeInteger(options.creationDate) && options.creationDate >= 0)) {
    return fail(`invalid creation date ${options.creationDate}: expected whole seconds since the epoch`)
  }
  if (options.name !== undefined && !isValidComponent(options.name)) {
    return fail(`invalid torrent name ${JSON.stringify(options.name)}`)
  }
  return { tiers }
}

/** What the metainfo parser accepts as a path component. */
export const isValidComponent = (c: string): boolean =>
  c !== "" && c !== "." && c !== ".." && !c.includes("/") && !c.includes("\0")

/**
 * SHA-1 of consecutive `pieceLength` slices of a byte stream fed in arbitrary
 * chunks (file boundaries included). Holds one running hash, never a piece:
 * memory is the 20-byte-per-piece output, whatever the payload size.
 */
export class PieceHasher {
  readonly pieceLength: number
  readonly pieces: Uint8Array
  private hash: Hash = createHash("sha1")
  private filled = 0
  private count = 0

  constructor(pieceLength: number, totalSize: number) {
    this.pieceLength = pieceLength
    this.pieces = new Uint8Array(20 * Math.ceil(totalSize / pieceLength))
  }

  update(chunk: Uint8Array): void {
    let offset = 0
    while (offset < chunk.length) {
      const take = Math.min(this.pieceLength - this.filled, chunk.length - offset)
      this.hash.update(chunk.subarray(offset, offset + take))
      this.filled += take
      offset += take
      if (this.filled === this.pieceLength) this.flush()
    }
  }

  /** Hashes the short last piece; returns the concatenated hashes. Throws only on a caller bug (wrong byte count). */
  finish(): Uint8Array {
    if (this.filled > 0) this.flush()
    if (this.count * 20 !== this.pieces.length) {
      throw new RangeError(`PieceHasher: expected ${this.pieces.length / 20} pieces, hashed ${this.count}`)
    }
    return this.pieces
  }

  private flush(): void {
    if ((this.count + 1) * 20 > this.pieces.length) throw new RangeError("PieceHasher: more bytes than announced")
    this.pieces.set(this.hash.digest(), this.count * 20)
    this.count++
    this.hash = createHash("sha1")
    this.filled = 0
  }
}

/**
 * The .torrent dict. `files` is non-empty; `single` means a single-file torrent
 * (the input was a file), whose one entry has an empty `path`.
 */
export const buildTorrent = (input: {
  readonly name: string
  readonly single: boolean
  readonly files: ReadonlyArray<SourceFile>
  readonly pieceLength: number
  /** v1 piece hashes; null for a v2-only torrent. */
  readonly pieces: Uint8Array | null
  /** BEP 47 padding after each file in the v1 list (all zero for a v1 torrent). */
  readonly padding: ReadonlyArray<number>
  /** The BEP 52 parts; null for a v1 torrent. */
  readonly v2: { readonly fileTree: Encodable; readonly pieceLayers: Encodable } | null
  readonly tiers: ReadonlyArray<ReadonlyArray<string>>
  readonly options: CreateOptions
}): Encodable => {
  const { files, options, tiers, v2 } = input
  const first = files[0]
  const info: Record<string, Encodable | undefined> = {
    name: input.name,
    "piece length": input.pieceLength,
    private: options.private === true ? 1 : undefined
  }
  if (input.pieces !== null) {
    info.pieces = input.pieces
    if (input.single && first !== undefined) {
      info.length = first.length
    } else {
      info.files = files.flatMap((f, i) => {
        const pad = input.padding[i] ?? 0
        const entry = { length: f.length, path: [...f.path] }
        return pad === 0 ? [entry] : [entry, { attr: "p", length: pad, path: [".pad", String(pad)] }]
      })
    }
  }
  if (v2 !== null) {
    info["file tree"] = v2.fileTree
    info["meta version"] = 2
  }
  const urls = tiers.flat()
  const createdBy = options.createdBy ?? CREATED_BY
  return {
    announce: urls[0],
    "announce-list": urls.length > 1 ? tiers.map((t) => [...t]) : undefined,
    comment: options.comment !== undefined && options.comment !== "" ? options.comment : undefined,
    "created by": createdBy !== "" ? createdBy : undefined,
    "creation date": options.creationDate,
    info,
    "piece layers": v2?.pieceLayers,
    "url-list": options.webSeeds !== undefined && options.webSeeds.length > 0 ? [...options.webSeeds] : undefined
  }
}
