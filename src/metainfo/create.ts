/**
 * Creating a v1 .torrent from a file or a directory, streaming.
 *
 * Memory: one 1 MiB read buffer, one running SHA-1 and 20 bytes per piece,
 * whatever the payload size (pieces are hashed across file boundaries as the
 * bytes go by; no piece is ever assembled in memory).
 *
 * What is included (nothing is skipped silently):
 * - every regular file below the directory, hidden files included, in path
 *   order (components compared in UTF-8 byte order, see `comparePaths`);
 * - empty files (length 0); empty directories are omitted (a v1 torrent cannot
 *   express them);
 * - symbolic links are followed, like mktorrent and libtorrent do by default:
 *   the torrent carries the target's bytes under the link's name. A link that
 *   points at one of its own ancestor directories fails with "symlink loop", a
 *   dangling link fails with "broken symbolic link";
 * - anything else (FIFO, socket, device) fails: reading it could block forever
 *   or never end.
 * A file whose size changes while it is hashed fails the creation.
 */
import { basename, join, resolve } from "node:path"
import { Effect, FileSystem } from "effect"
import type { PlatformError } from "effect/PlatformError"
import { encode } from "../bencode/index.ts"
import {
  buildTorrent,
  choosePieceLength,
  comparePaths,
  compareNames,
  type CreateOptions,
  CreateTorrentError,
  type SourceFile,
  validateOptions
} from "./create-plan.ts"
import { fileTree, PayloadHasher, pieceLayers } from "./create-v2.ts"
import { parseMetainfoResult } from "./parse.ts"
import type { Metainfo } from "./model.ts"

export {
  choosePieceLength,
  comparePaths,
  type CreateFormat,
  type CreateOptions,
  type CreateProgress,
  CreateTorrentError,
  isValidPieceLength,
  PieceHasher
} from "./create-plan.ts"
export { hybridPadding } from "./create-v2.ts"

export interface CreatedTorrent {
  /** The .torrent file's bytes (canonical bencode). */
  readonly torrent: Uint8Array
  /** The same bytes parsed back with `parseMetainfo`. */
  readonly metainfo: Metainfo
}

const READ_BUFFER = 1024 * 1024

/**
 * Short reason for a file-system failure ("no such file or directory", "not a
 * directory"), without Effect's module/method prefix. Shared with the CLI.
 */
export const describeFsError = (e: PlatformError): string => {
  if (e.reason._tag === "NotFound") return "no such file or directory"
  if (e.reason._tag === "PermissionDenied") return "permission denied"
  if (e.reason.description !== undefined && e.reason.description !== "") return e.reason.description
  // Node's own text for the errno, e.g. "ENOTDIR: not a directory, open '/x'" → "not a directory".
  const cause: unknown = e.reason.cause
  const nodeMessage = cause instanceof Error ? /^E[A-Z]+: ([^,]+)/.exec(cause.message)?.[1] : undefined
  return nodeMessage ?? e.reason._tag
}

const fsFail = (path: string) => (e: PlatformError) => new CreateTorrentError({ path, detail: describeFsError(e) })

const toLength = (path: string, size: bigint): Effect.Effect<number, CreateTorrentError> =>
  size <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Effect.succeed(Number(size))
    : Effect.fail(new CreateTorrentError({ path, detail: "file too large" }))

/** stat that follows links, telling a dangling link apart from a missing file. */
const statFollowing = (fs: FileSystem.FileSystem, path: string) =>
  fs.stat(path).pipe(
    Effect.catchTag("PlatformError", (e) =>
      e.reason._tag === "NotFound"
        ? fs.lstat(path).pipe(
          Effect.matchEffect({
            onFailure: () => Effect.fail(fsFail(path)(e)),
            onSuccess: (l) =>
              Effect.fail(
                l.type === "SymbolicLink"
                  ? new CreateTorrentError({ path, detail: "broken symbolic link" })
                  : fsFail(path)(e)
              )
          })
        )
        : Effect.fail(fsFail(path)(e)))
  )

const notRegular = (path: string, type: string) =>
  new CreateTorrentError({ path, detail: `not a regular file or directory (${type})` })

/** Depth-first walk in torrent order; `ancestors` are real paths, for loop detection. */
const walk = (
  fs: FileSystem.FileSystem,
  dir: string,
  prefix: ReadonlyArray<string>,
  ancestors: ReadonlySet<string>,
  out: Array<SourceFile>
): Effect.Effect<void, CreateTorrentError> =>
  Effect.gen(function*() {
    const names = [...(yield* fs.readDirectory(dir).pipe(Effect.mapError(fsFail(dir))))].sort(compareNames)
    for (const name of names) {
      const path = join(dir, name)
      const info = yield* statFollowing(fs, path)
      if (info.type === "File") {
        out.push({ absolutePath: path, path: [...prefix, name], length: yield* toLength(path, info.size) })
      } else if (info.type === "Directory") {
        const real = yield* fs.realPath(path).pipe(Effect.mapError(fsFail(path)))
        if (ancestors.has(real)) return yield* new CreateTorrentError({ path, detail: "symlink loop" })
        yield* walk(fs, path, [...prefix, name], new Set([...ancestors, real]), out)
      } else {
        return yield* notRegular(path, info.type)
      }
    }
  })

const scan = Effect.fn("createTorrent.scan")(function*(fs: FileSystem.FileSystem, root: string) {
  const info = yield* statFollowing(fs, root)
  if (info.type === "File") {
    const file: SourceFile = { absolutePath: root, path: [], length: yield* toLength(root, info.size) }
    return { single: true, files: [file] }
  }
  if (info.type !== "Directory") return yield* notRegular(root, info.type)
  const files: Array<SourceFile> = []
  const real = yield* fs.realPath(root).pipe(Effect.mapError(fsFail(root)))
  yield* walk(fs, root, [], new Set([real]), files)
  // The walk already yields this order; sorting again makes the invariant local.
  files.sort((a, b) => comparePaths(a.path, b.path))
  if (files.length === 0) return yield* new CreateTorrentError({ path: root, detail: "no files to share (empty directory)" })
  return { single: false, files }
})

/** Streams every file through the hasher, checking that no file changes size underneath. */
const hashFiles = Effect.fn("createTorrent.hash")(function*(
  fs: FileSystem.FileSystem,
  files: ReadonlyArray<SourceFile>,
  hasher: PayloadHasher,
  totalBytes: number,
  onProgress: CreateOptions["onProgress"]
) {
  const buffer = new Uint8Array(READ_BUFFER)
  let hashedBytes = 0
  for (const f of files) {
    if (f.length === 0) {
      hasher.endFile()
      continue
    }
    const fail = fsFail(f.absolutePath)
    yield* Effect.scoped(Effect.gen(function*() {
      const handle = yield* fs.open(f.absolutePath, { flag: "r" }).pipe(Effect.mapError(fail))
      let remaining = f.length
      while (remaining > 0) {
        const n = yield* handle.read(buffer.subarray(0, Math.min(remaining, READ_BUFFER))).pipe(Effect.mapError(fail))
        if (n === 0) return yield* new CreateTorrentError({ path: f.absolutePath, detail: "file shrank while hashing" })
        hasher.update(buffer.subarray(0, n))
        remaining -= n
        hashedBytes += n
        if (onProgress !== undefined) yield* onProgress({ hashedBytes, totalBytes })
      }
      const after = yield* handle.stat.pipe(Effect.mapError(fail))
      if (after.size !== BigInt(f.length)) {
        return yield* new CreateTorrentError({ path: f.absolutePath, detail: "file changed size while hashing" })
      }
    }))
    hasher.endFile()
  }
  return hasher.finish()
})

/**
 * Makes a v1 .torrent of a file (a single-file torrent) or a directory (a multi-file torrent
 * named after it), hashing the data as it streams from disk.
 *
 * **When to use**
 *
 * To share your own data: write `created.torrent` to a .torrent file, and seed by adding
 * `created.metainfo` to a client whose download directory holds the data.
 *
 * **Details**
 *
 * The same input and options give the same bytes (no creation date unless asked for). Memory
 * stays flat whatever the size; a file that changes while it is hashed fails the creation.
 * Needs Effect's `FileSystem` (`NodeFileSystem.layer` on Node).
 *
 * **Example**
 *
 * ```ts
 * const created = yield* createTorrent("photos", { trackers: [["udp://tracker.example:6969"]] })
 * yield* fs.writeFile("photos.torrent", created.torrent)
 * ```
 */
export const createTorrent = Effect.fn("createTorrent")(function*(
  path: string,
  options: CreateOptions = {}
): Effect.fn.Return<CreatedTorrent, CreateTorrentError, FileSystem.FileSystem> {
  const checked = validateOptions(options)
  if (checked instanceof CreateTorrentError) return yield* checked
  const fs = yield* FileSystem.FileSystem
  const root = resolve(path)
  const name = options.name ?? basename(root)
  if (name === "") return yield* new CreateTorrentError({ path, detail: "cannot name a torrent after the root directory" })
  const { files, single } = yield* scan(fs, root)
  let totalSize = 0
  for (const f of files) totalSize += f.length
  if (!Number.isSafeInteger(totalSize)) return yield* new CreateTorrentError({ path, detail: "payload too large" })
  if (totalSize === 0) return yield* new CreateTorrentError({ path, detail: "nothing to share: every file is empty" })
  const pieceLength = options.pieceLength ?? choosePieceLength(totalSize)
  const format = options.format ?? "v1"
  const hasher = new PayloadHasher(format, pieceLength, files)
  const { merkle, pieces } = yield* hashFiles(fs, files, hasher, totalSize, options.onProgress)
  const v2 = format === "v1" ? null : { fileTree: fileTree(name, single, files, merkle), pieceLayers: pieceLayers(merkle) }
  const torrent = encode(
    buildTorrent({ name, single, files, pieceLength, pieces, padding: hasher.padding, v2, tiers: checked.tiers, options })
  )
  // Parsing our own output back gives callers the exact Metainfo every other service sees.
  const metainfo = yield* Effect.fromResult(parseMetainfoResult(torrent)).pipe(
    Effect.mapError((e) => new CreateTorrentError({ path, detail: `the created torrent does not parse back: ${e.message}` }))
  )
  return { torrent, metainfo }
})
