/**
 * FileStorage: pieces in real files through positional reads/writes (`FileHandle.read/write`
 * with explicit positions: no shared cursor, no lock, writes of different pieces may run at
 * once). Files are created on the first write touching them (parents too); files sparse
 * until filled. Padding files (BEP 47) are never created: their bytes read as zeros.
 *
 * Unwanted files: a verified piece is written whole, so a piece shared between a wanted and
 * an unwanted file creates the unwanted file and writes just the overlapping bytes (sparse).
 * libtorrent keeps such bytes in a separate "part file" instead; that would be an improvement.
 *
 * Disk full: a write only touches the byte ranges of the piece being written, and the piece
 * is marked verified only after every span was written, so ENOSPC (`DiskFull`) can never damage
 * a piece already verified; the failing piece simply has to be downloaded again.
 */
import * as Fs from "node:fs/promises"
import { Effect, FileSystem, Layer, Semaphore } from "effect"
import type { Backend, PieceReader } from "./backend.ts"
import { StorageError } from "./errors.ts"
import { type HandlePool, io, ioOrMissing, makeHandlePool } from "./handles.ts"
import { PieceHasher, type PieceHasherShape } from "./hasher.ts"
import { pieceSize, pieceSpans } from "./layout.ts"
import { allocatePiece } from "./partial.ts"
import { loadResume, saveResume } from "./resume.ts"
import { type BackendInput, openWith, Storage } from "./service.ts"
import { defaults } from "./torrent-storage.ts"

/**
 * Largest single `pwrite`. A whole 1 MiB piece in one call cost the kernel more CPU per byte
 * (`copy_folio_from_iter_atomic`, the copy into the page cache: 1.6x under perf) than the
 * same piece in 256 KiB calls. 1 GiB leeched from libtorrent on this machine (2 shared cores,
 * a VM), alternating runs: CPU off the main thread 3.3-3.6 s -> 2.3-2.5 s (issue 15). Our
 * guess at why: a 1 MiB write gets one large page-cache folio, freshly allocated from memory
 * the host has to back on first touch. 64 KiB did as well; 16 KiB cost more calls than it saved.
 */
const WRITE_SLICE = 256 * 1024

const writeAll = async (handle: Fs.FileHandle, data: Uint8Array, position: number) => {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, Math.min(WRITE_SLICE, data.length - done), position + done)
    done += bytesWritten
  }
}

/** Fills `into` from `position`; false when the file ends first. */
const readFully = async (handle: Fs.FileHandle, into: Uint8Array, position: number) => {
  let done = 0
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done)
    if (bytesRead === 0) return false
    done += bytesRead
  }
  return true
}

const pathOf = (input: BackendInput, file: number) => input.paths[file] ?? ""

const readInto = (input: BackendInput, pool: HandlePool, piece: number, into: Uint8Array) =>
  Effect.gen(function*() {
    for (const span of pieceSpans(input.layout, piece)) {
      const target = into.subarray(span.offset, span.offset + span.length)
      if (span.padding) {
        target.fill(0)
        continue
      }
      const complete = yield* pool.use(span.file, "read", (handle) =>
        handle === null
          ? Effect.succeed(false)
          : io("read", pathOf(input, span.file), () => readFully(handle, target, span.fileOffset)))
      if (!complete) return null
    }
    return into
  })

const makeFileBackend = (fs: FileSystem.FileSystem) => Effect.fnUntraced(function*(input: BackendInput) {
  const { layout, root } = input
  yield* io("create directory", root, () => Fs.mkdir(root, { recursive: true }))
  const realRoot = yield* io("resolve", root, () => Fs.realpath(root))
  const pool = yield* makeHandlePool(realRoot, input.paths, input.options.maxOpenFiles ?? defaults.maxOpenFiles)
  // closes the files even when opening fails half-way (the core's close also calls this; closeAll is idempotent)
  yield* Effect.addFinalizer(() => Effect.ignore(pool.closeAll))
  const resumeLock = yield* Semaphore.make(1)
  const resumeInput = { ...input, fs, ...(input.options.resumeDirectory === undefined ? {} : { resumeDirectory: input.options.resumeDirectory }) }

  // Zero-length files are never touched by a piece write: create the wanted ones now.
  // BEP 47 symlink entries are not materialised (a link planted by a torrent is a risk of its own).
  for (const [i, file] of layout.files.entries()) {
    const symlink = file.symlinkPath !== undefined || file.attr.includes("l")
    if (file.length === 0 && !file.padding && !symlink && input.options.wanted?.[i] !== false) {
      yield* pool.use(i, "write", () => Effect.void)
    }
  }

  const writePiece = (piece: number, data: Uint8Array) =>
    Effect.forEach(pieceSpans(layout, piece), (span) =>
      span.padding
        ? Effect.void
        : pool.use(span.file, "write", (handle) =>
          handle === null
            ? Effect.fail(new StorageError({ reason: "Io", message: `no handle for ${pathOf(input, span.file)}` }))
            : io("write", pathOf(input, span.file), () =>
              writeAll(handle, data.subarray(span.offset, span.offset + span.length), span.fileOffset))), {
      discard: true
    })

  // One stat per file per recheck: pieces over missing or short files are skipped without reading.
  const beginRecheck = Effect.gen(function*() {
    const sizes = yield* Effect.forEach(input.paths, (path) =>
      path === null
        ? Effect.succeed(Number.POSITIVE_INFINITY)
        : ioOrMissing("stat", path, () => Fs.stat(path)).pipe(Effect.map((st) => st?.size ?? -1)))
    const reader: PieceReader = (piece, scratch) => {
      const present = pieceSpans(layout, piece).every((s) => (sizes[s.file] ?? -1) >= s.fileOffset + s.length)
      return present ? readInto(input, pool, piece, scratch) : Effect.succeed(null)
    }
    return reader
  })

  return {
    writePiece,
    // not zero-filled: readInto fills every byte or gives null (a 1 MiB memset per piece served
    // was 10 % of a seeder's CPU)
    readPiece: (piece) => readInto(input, pool, piece, allocatePiece(pieceSize(layout, piece))),
    readPieceInto: (piece, into) => readInto(input, pool, piece, into),
    beginRecheck,
    loadResume: loadResume(resumeInput),
    saveResume: (have) => resumeLock.withPermit(Effect.andThen(pool.syncAll, saveResume(resumeInput, have))),
    close: pool.closeAll,
    cacheReads: true,
    retainsBuffers: false
  } satisfies Backend
})

const fileStorage = (hasher: PieceHasherShape | undefined) =>
  Effect.map(FileSystem.FileSystem, (fs) => Storage.of({ open: openWith(makeFileBackend(fs), hasher) }))

/** `Storage` on real files (see `layer` and `layerWithHasher`); needs Effect's `FileSystem`. */
export const FileStorage = {
  /**
   * Real files under `options.directory` (positional I/O through node:fs/promises; resume
   * records through `FileSystem`). Blocks are hashed inline, incrementally as they arrive.
   */
  layer: Layer.effect(Storage, fileStorage(undefined)) satisfies Layer.Layer<Storage, never, FileSystem.FileSystem>,
  /**
   * Like `layer`, with completed pieces hashed by the `PieceHasher` (worker threads), off
   * the JS thread.
   *
   * **Example**
   *
   * ```ts
   * const storage = FileStorage.layerWithHasher.pipe(
   *   Layer.provide(Layer.mergeAll(PieceHasher.layerWorkers(), NodeFileSystem.layer))
   * )
   * ```
   */
  layerWithHasher: Layer.effect(Storage, Effect.flatMap(PieceHasher, fileStorage)) satisfies Layer.Layer<
    Storage,
    never,
    FileSystem.FileSystem | PieceHasher
  >
} as const
