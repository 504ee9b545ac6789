/**
 * A bounded pool of open file handles for FileStorage. Every path it opens is checked to
 * stay inside the download directory after resolving symlinks (the parent directory's
 * real path and, if the file is a symlink, its target), so a symlink planted in the
 * download directory cannot redirect writes elsewhere. (A symlink swapped in between the
 * check and the open is not caught; that needs openat2/RESOLVE_BENEATH, which Node lacks.)
 */
import { constants } from "node:fs"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect, Semaphore } from "effect"
import { fromIoError, isErrno, StorageError } from "./errors.ts"
import { isInside } from "./layout.ts"

type FileHandle = Fs.FileHandle

interface Entry {
  readonly handle: FileHandle
  readonly writable: boolean
  users: number
  dirty: boolean
}

export type Mode = "read" | "write"

export interface HandlePool {
  /** Runs `f` with the file's handle; in "read" mode a missing file gives null and is not created. */
  readonly use: <A>(
    file: number,
    mode: Mode,
    f: (handle: FileHandle | null) => Effect.Effect<A, StorageError>
  ) => Effect.Effect<A, StorageError>
  /** Makes everything written so far durable (datasync of every written handle); fails with Vanished when an open file is no longer at its path. */
  readonly syncAll: Effect.Effect<void, StorageError>
  readonly closeAll: Effect.Effect<void, StorageError>
}

export const io = <A>(op: string, file: string, f: () => Promise<A>): Effect.Effect<A, StorageError> =>
  Effect.tryPromise({ try: f, catch: (e) => fromIoError(e, op, file) })

/** Like `io`, but ENOENT (or ENOTDIR: a path component is a file) becomes null. */
export const ioOrMissing = <A>(op: string, file: string, f: () => Promise<A>): Effect.Effect<A | null, StorageError> =>
  Effect.tryPromise({
    try: f,
    catch: (e) => (isErrno(e, "ENOENT") || isErrno(e, "ENOTDIR") ? null : fromIoError(e, op, file))
  }).pipe(Effect.catch((e) => (e === null ? Effect.succeed(null) : Effect.fail(e))))

const escape = (path: string, target: string) =>
  new StorageError({
    reason: "PathEscape",
    message: `${path} resolves to ${target}, outside the download directory`,
    file: path
  })

const isPermission = (e: unknown) => isErrno(e, "EACCES") || isErrno(e, "EPERM") || isErrno(e, "EROFS")

export const makeHandlePool = Effect.fnUntraced(function*(
  realRoot: string,
  paths: ReadonlyArray<string | null>,
  maxOpen: number
) {
  const entries = new Map<number, Entry>()
  const openLock = yield* Semaphore.make(1)
  let closed = false

  const checkInside = (path: string, real: string) =>
    real === realRoot || isInside(realRoot, real) ? Effect.void : Effect.fail(escape(path, real))

  const openFile = Effect.fnUntraced(function*(path: string, mode: Mode) {
    const dir = NodePath.dirname(path)
    if (mode === "write") yield* io("create directory", dir, () => Fs.mkdir(dir, { recursive: true }))
    const realDir = yield* ioOrMissing("resolve", dir, () => Fs.realpath(dir))
    if (realDir === null) return null
    yield* checkInside(dir, realDir)
    const stat = yield* ioOrMissing("lstat", path, () => Fs.lstat(path))
    if (stat === null && mode === "read") return null
    if (stat !== null && stat.isSymbolicLink()) {
      const target = yield* ioOrMissing("resolve", path, () => Fs.realpath(path))
      if (target === null) return yield* escape(path, "a missing target")
      yield* checkInside(path, target)
    }
    if (mode === "write") {
      const handle = yield* io("open", path, () => Fs.open(path, constants.O_RDWR | constants.O_CREAT, 0o666))
      return { handle, writable: true, users: 0, dirty: false }
    }
    // seeding from read-only files works: fall back to O_RDONLY when O_RDWR is refused
    const rw = yield* Effect.tryPromise({ try: () => Fs.open(path, constants.O_RDWR), catch: (e) => e })
      .pipe(Effect.map((handle): Entry => ({ handle, writable: true, users: 0, dirty: false })), Effect.result)
    if (rw._tag === "Success") return rw.success
    if (!isPermission(rw.failure)) return yield* fromIoError(rw.failure, "open", path)
    const handle = yield* io("open", path, () => Fs.open(path, constants.O_RDONLY))
    return { handle, writable: false, users: 0, dirty: false }
  })

  const closeEntry = (path: string, entry: Entry) =>
    Effect.gen(function*() {
      if (entry.dirty) yield* io("sync", path, () => entry.handle.datasync())
      yield* io("close", path, () => entry.handle.close())
    })

  const evictIdle = Effect.suspend(() => {
    const victims: Array<[number, Entry]> = []
    let excess = entries.size - maxOpen
    for (const [file, entry] of entries) {
      if (excess <= 0) break
      if (entry.users > 0) continue
      entries.delete(file)
      victims.push([file, entry])
      excess--
    }
    return Effect.forEach(victims, ([file, entry]) =>
      closeEntry(paths[file] ?? "", entry).pipe(
        Effect.catch((e) => Effect.logWarning(`closing an idle file failed: ${e.message}`))
      ), { discard: true })
  })

  const acquire = (file: number, mode: Mode) =>
    openLock.withPermit(Effect.gen(function*() {
      const path = paths[file]
      if (closed || path === undefined || path === null) {
        return yield* new StorageError({ reason: "Io", message: `file ${file} cannot be opened (closed or padding)` })
      }
      let entry = entries.get(file)
      if (entry === undefined) {
        const opened = yield* openFile(path, mode)
        if (opened === null) return null
        entry = opened
      }
      if (mode === "write" && !entry.writable) {
        return yield* new StorageError({
          reason: "PermissionDenied",
          message: `${path} is read-only, cannot write to it`,
          file: path
        })
      }
      // re-insert: Map order is the LRU order
      entries.delete(file)
      entries.set(file, entry)
      entry.users++
      if (mode === "write") entry.dirty = true
      return entry
    }))

  const use = <A>(file: number, mode: Mode, f: (handle: FileHandle | null) => Effect.Effect<A, StorageError>) =>
    Effect.acquireUseRelease(
      acquire(file, mode),
      (entry) => f(entry?.handle ?? null),
      (entry) =>
        entry === null ? Effect.void : Effect.andThen(Effect.sync(() => void entry.users--), evictIdle)
    )

  // An open handle keeps writing into a file that was deleted or moved away (its directory
  // removed, say): the data would be lost at close while the torrent counts it as had.
  const stillThere = (path: string, entry: Entry) =>
    io("stat", path, async () => {
      const [open, now] = await Promise.all([entry.handle.stat(), Fs.stat(path).catch(() => null)])
      return now !== null && now.ino === open.ino && now.dev === open.dev
    }).pipe(Effect.flatMap((there) =>
      there
        ? Effect.void
        : Effect.fail(new StorageError({ reason: "Vanished", message: `${path}: the file vanished while open (deleted or moved away)`, file: path }))
    ))

  const syncAll = Effect.suspend(() =>
    Effect.forEach(Array.from(entries), ([file, entry]) => {
      const path = paths[file] ?? ""
      if (!entry.dirty) return stillThere(path, entry)
      entry.dirty = false
      return Effect.andThen(io("sync", path, () => entry.handle.datasync()), stillThere(path, entry))
    }, { discard: true })
  )

  const closeAll = openLock.withPermit(Effect.suspend(() => {
    closed = true
    const all = Array.from(entries)
    entries.clear()
    return Effect.forEach(all, ([file, entry]) => Effect.result(closeEntry(paths[file] ?? "", entry))).pipe(
      Effect.flatMap((results) => {
        const failed = results.find((r) => r._tag === "Failure")
        return failed === undefined ? Effect.void : Effect.fail(failed.failure)
      })
    )
  }))

  return { use, syncAll, closeAll } satisfies HandlePool
})
