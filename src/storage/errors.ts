import { Schema } from "effect"
import { errnoOf } from "../errno.ts"

/**
 * Why a storage operation failed.
 * - `DiskFull` (ENOSPC/EDQUOT), `PermissionDenied` (EACCES/EPERM/EROFS), `Io` (anything else from the OS)
 * - `OutOfRange`: a piece/begin/length outside the torrent, or a misaligned block
 * - `PathEscape`: a file path that would leave the download directory (or reach our own state folder)
 * - `NotVerified`: a read of a piece we do not have (or whose data vanished from disk)
 * - `InvalidMetainfo` / `Unsupported`: a torrent this storage cannot lay out (e.g. pure v2)
 * - `InvalidArgument`: bad options (e.g. `wanted` of the wrong length)
 * - `Closed`: used after `close`
 */
export const StorageErrorReason = Schema.Literals([
  "DiskFull",
  "PermissionDenied",
  "Io",
  "Vanished",
  "OutOfRange",
  "PathEscape",
  "NotVerified",
  "InvalidMetainfo",
  "Unsupported",
  "InvalidArgument",
  "Closed"
])
export type StorageErrorReason = typeof StorageErrorReason.Type

/**
 * A storage operation that failed: the disk is full or read-only, a file is missing or in the
 * way, a request is out of range, the storage is closed... (`reason`; `message` names the
 * operation and the file).
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: StorageErrorReason,
  message: Schema.String,
  /** The file involved, when there is one (absolute path for FileStorage). */
  file: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.Defect())
}) {}

/** Maps a Node fs error to a StorageError whose message names the operation and the file. */
export const fromIoError = (cause: unknown, op: string, file: string): StorageError => {
  const code = errnoOf(cause)
  const detail = cause instanceof Error ? cause.message : String(cause)
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new StorageError({ reason: "DiskFull", message: `${op} ${file}: disk full (${code})`, file, cause })
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new StorageError({
        reason: "PermissionDenied",
        message: `${op} ${file}: permission denied (${code})`,
        file,
        cause
      })
    default:
      return new StorageError({ reason: "Io", message: `${op} ${file}: ${detail}`, file, cause })
  }
}

export const isErrno = (cause: unknown, code: string): boolean => errnoOf(cause) === code
