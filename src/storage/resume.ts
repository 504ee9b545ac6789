/**
 * Resume records: `<directory>/.effect-torrent/<infohash-hex>.resume`, JSON.
 *
 * A record is trusted only if, for every real file, the size and the nanosecond mtime
 * recorded match the file now (a file recorded as missing must still be missing).
 * Data is only ever added by us, so a stale record claims a subset of what is on disk;
 * anything else changing a file changes its mtime and forces a full recheck.
 *
 * Files go through Effect's `FileSystem`, except the stamps: its `stat` reports mtimes in
 * whole milliseconds, and a stamp wants the nanoseconds the OS keeps.
 */
import { stat } from "node:fs/promises"
import * as NodePath from "node:path"
import { Clock, Effect, type FileSystem, type PlatformError, Schema } from "effect"
import { fromHex, toHex } from "../bytes.ts"
import * as Bitfield from "./bitfield.ts"
import { fromIoError, StorageError } from "./errors.ts"
import { ioOrMissing } from "./handles.ts"
import { type Layout, stateDirName } from "./layout.ts"

const FileStamp = Schema.NullOr(Schema.Struct({ size: Schema.Number, mtimeNs: Schema.String }))
type FileStamp = typeof FileStamp.Type

const ResumeRecord = Schema.Struct({
  format: Schema.Literal("effect-torrent-resume"),
  version: Schema.Literal(1),
  infoHash: Schema.String,
  pieceCount: Schema.Number,
  have: Schema.String,
  files: Schema.Array(FileStamp),
  savedAt: Schema.Number
})
const ResumeJson = Schema.fromJsonString(ResumeRecord)
const decodeRecord = Schema.decodeUnknownEffect(ResumeJson)
const encodeRecord = Schema.encodeEffect(ResumeJson)

/** Where a torrent's resume record lives: `resumeDirectory` when given, else `<root>/.effect-torrent`. */
export const resumePath = (root: string, key: string, resumeDirectory?: string) =>
  NodePath.join(resumeDirectory ?? NodePath.join(root, stateDirName), `${key}.resume`)

const stampOf = (path: string | null): Effect.Effect<FileStamp, StorageError> =>
  path === null
    ? Effect.succeed(null)
    : ioOrMissing("stat", path, () => stat(path, { bigint: true })).pipe(
      Effect.map((st) => (st === null ? null : { size: Number(st.size), mtimeNs: st.mtimeNs.toString() }))
    )

const sameStamp = (a: FileStamp, b: FileStamp) =>
  a === null || b === null ? a === b : a.size === b.size && a.mtimeNs === b.mtimeNs

/** A `FileSystem` failure as a StorageError (the OS error underneath decides DiskFull, PermissionDenied, Io). */
const fsError = (op: string, file: string) => (e: PlatformError.PlatformError): StorageError =>
  fromIoError(e.reason.cause ?? e, op, file)

export interface ResumeInput {
  readonly fs: FileSystem.FileSystem
  readonly root: string
  readonly key: string
  readonly layout: Layout
  readonly paths: ReadonlyArray<string | null>
  readonly resumeDirectory?: string
}

/** The recorded have set if the record exists, parses, and every file's stamp still matches; else null. */
export const loadResume = Effect.fnUntraced(function*(input: ResumeInput) {
  const path = resumePath(input.root, input.key, input.resumeDirectory)
  const text = yield* input.fs.readFileString(path).pipe(
    Effect.catchIf((e) => e.reason._tag === "NotFound", () => Effect.succeed(null)),
    Effect.mapError(fsError("read resume data", path))
  )
  if (text === null) return null
  const decoded = yield* Effect.result(decodeRecord(text))
  if (decoded._tag === "Failure") {
    // One line for the user (a schema message spans lines: "Missing key\n  at [...]"), and what happens next
    const reason = decoded.failure.message.replace(/\s*\n\s*/g, " ")
    yield* Effect.logWarning(`ignoring unreadable resume data ${path} (${reason}): re-checking the files`)
    return null
  }
  const record = decoded.success
  if (
    record.infoHash !== input.key || record.pieceCount !== input.layout.pieceCount ||
    record.files.length !== input.paths.length
  ) return null
  for (const [i, filePath] of input.paths.entries()) {
    if (filePath === null) continue
    const now = yield* stampOf(filePath)
    if (!sameStamp(now, record.files[i] ?? null)) return null
  }
  return Bitfield.checked(fromHex(record.have), input.layout.pieceCount)
})

/** Writes the record to a temp file, syncs it and renames it over the old one (atomic on POSIX). */
export const saveResume = Effect.fnUntraced(function*(input: ResumeInput, have: Uint8Array) {
  const path = resumePath(input.root, input.key, input.resumeDirectory)
  const files = yield* Effect.forEach(input.paths, stampOf)
  const savedAt = yield* Clock.currentTimeMillis
  const text = yield* encodeRecord({
    format: "effect-torrent-resume",
    version: 1,
    infoHash: input.key,
    pieceCount: input.layout.pieceCount,
    have: toHex(have),
    files,
    savedAt
  }).pipe(
    Effect.mapError((e) => new StorageError({ reason: "Io", message: `encoding resume data: ${e.message}`, file: path }))
  )
  const temp = `${path}.tmp`
  const { fs } = input
  yield* fs.makeDirectory(NodePath.dirname(path), { recursive: true }).pipe(
    Effect.mapError(fsError("create directory", NodePath.dirname(path)))
  )
  yield* Effect.scoped(Effect.gen(function*() {
    const file = yield* fs.open(temp, { flag: "w" })
    yield* file.writeAll(new TextEncoder().encode(text))
    yield* file.sync
  })).pipe(Effect.mapError(fsError("write resume data", temp)))
  yield* fs.rename(temp, path).pipe(Effect.mapError(fsError("rename resume data", path)))
})
