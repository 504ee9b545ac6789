/** Builds real Metainfo values over real (pseudo-random) data for the storage tests. */
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { Metainfo, TorrentFile } from "../src/metainfo/model.ts"
import type { Backend } from "../src/storage/backend.ts"

export interface FileSpec {
  readonly path: ReadonlyArray<string>
  readonly length: number
  readonly padding?: boolean
}

export interface Fixture {
  readonly meta: Metainfo
  /** The whole payload, padding bytes zero. */
  readonly data: Uint8Array
}

/** Deterministic bytes (xorshift32), so a failing case can be replayed. */
export const pseudoRandomBytes = (length: number, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed | 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export const makeFixture = (files: ReadonlyArray<FileSpec>, pieceLength: number, seed = 1): Fixture => {
  const totalSize = files.reduce((n, f) => n + f.length, 0)
  const data = pseudoRandomBytes(totalSize, seed)
  let offset = 0
  const torrentFiles: Array<TorrentFile> = files.map((f) => {
    if (f.padding === true) data.fill(0, offset, offset + f.length)
    const file: TorrentFile = {
      path: f.path,
      length: f.length,
      offset,
      padding: f.padding === true,
      attr: f.padding === true ? "p" : "",
      piecesRoot: null
    }
    offset += f.length
    return file
  })
  const pieceCount = Math.ceil(totalSize / pieceLength)
  const pieces = new Uint8Array(20 * pieceCount)
  for (let p = 0; p < pieceCount; p++) {
    const slice = data.subarray(p * pieceLength, Math.min(totalSize, (p + 1) * pieceLength))
    pieces.set(createHash("sha1").update(slice).digest(), 20 * p)
  }
  const infoHash = new Uint8Array(createHash("sha1").update(pieces).update(String(seed)).digest())
  const meta: Metainfo = {
    version: "v1",
    infoHash,
    infoHashV2: null,
    infoBytes: new Uint8Array(0),
    name: files[0]?.path[0] ?? "t",
    pieceLength,
    pieceCount,
    pieces,
    files: torrentFiles,
    totalSize,
    multiFile: files.length > 1,
    trackers: [],
    webSeeds: [],
    private: false,
    creationDate: null,
    comment: null,
    createdBy: null,
    pieceLayers: new Map()
  }
  return { meta, data }
}

export interface Block {
  readonly piece: number
  readonly begin: number
  readonly data: Uint8Array
}

/** Every block of the torrent, in order. */
export const blocksOf = (fixture: Fixture, blockSize: number): Array<Block> => {
  const { meta, data } = fixture
  const out: Array<Block> = []
  for (let piece = 0; piece < meta.pieceCount; piece++) {
    const start = piece * meta.pieceLength
    const size = Math.min(meta.pieceLength, meta.totalSize - start)
    for (let begin = 0; begin < size; begin += blockSize) {
      out.push({ piece, begin, data: data.slice(start + begin, start + Math.min(size, begin + blockSize)) })
    }
  }
  return out
}

export const pieceData = (fixture: Fixture, piece: number): Uint8Array =>
  fixture.data.subarray(
    piece * fixture.meta.pieceLength,
    Math.min(fixture.meta.totalSize, (piece + 1) * fixture.meta.pieceLength)
  )

export const fileData = (fixture: Fixture, index: number): Uint8Array => {
  const f = fixture.meta.files[index]
  return f === undefined ? new Uint8Array(0) : fixture.data.subarray(f.offset, f.offset + f.length)
}

/** A fresh temp directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(NodePath.join(Os.tmpdir(), "effect-torrent-storage-"))),
  (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
)

/** Deterministic shuffle (Fisher-Yates over xorshift). */
export const shuffled = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = items.slice()
  const rnd = pseudoRandomBytes(out.length * 4, seed)
  for (let i = out.length - 1; i > 0; i--) {
    const r = ((rnd[4 * i] ?? 0) << 16 | (rnd[4 * i + 1] ?? 0) << 8 | (rnd[4 * i + 2] ?? 0)) % (i + 1)
    const a = out[i]
    const b = out[r]
    if (a !== undefined && b !== undefined) {
      out[i] = b
      out[r] = a
    }
  }
  return out
}

/** A backend with no resume data whose pieces a test supplies (`writePiece`, `readPiece`, and any other part it exercises). */
export const stubBackend = (parts: Pick<Backend, "writePiece" | "readPiece"> & Partial<Backend>): Backend => ({
  beginRecheck: Effect.succeed(() => Effect.succeed(null)),
  loadResume: Effect.succeed(null),
  saveResume: () => Effect.void,
  close: Effect.void,
  cacheReads: true,
  retainsBuffers: false,
  ...parts
})
