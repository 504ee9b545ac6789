/**
 * Reading a torrent's files while they download: `torrent.file(i).stream({ start, end })`.
 *
 * A reader walks the pieces under its range in order. Before it waits for a piece it
 * moves its window (the piece it needs and those just ahead of it) to the front of the
 * picker's focus, so the swarm is asked for what the reader needs next rather than for the
 * rarest pieces; the window slides as the reader advances, and goes away when the stream
 * ends. A piece not verified yet is waited for (woken by its verification). Streaming a
 * file that is not selected selects it.
 */
import { Deferred, Effect, Stream } from "effect"
import { type PeerKey, PieceIndex } from "../ids.ts"
import type { Metainfo } from "../metainfo/model.ts"
import type { Picker } from "../scheduler/picker.ts"
import type { TorrentStorage } from "../storage/index.ts"
import { TorrentError } from "./errors.ts"

/** Bytes of pieces ahead of a reader that the picker fetches first. */
const WINDOW_BYTES = 8 * 1024 * 1024
const WINDOW_MIN_PIECES = 2
const WINDOW_MAX_PIECES = 32
/** High-priority files put this many of their first missing pieces into the focus. */
const HIGH_PRIORITY_PIECES = 8

/** File priorities: 0 = not downloaded, 1 = normal, 2 = high (fetched before normal files). */
export type FilePriority = 0 | 1 | 2

/** A byte range of one file for `TorrentFileHandle.stream`, both ends inclusive. */
export interface StreamRange {
  /** First byte, from the start of the file. Default 0. */
  readonly start?: number
  /** Last byte, inclusive (like Node's `createReadStream`). Default the file's last byte. */
  readonly end?: number
}

/**
 * One file of a torrent (`Torrent.file(index)`): where it sits, and its bytes as a stream
 * that waits for their pieces, asking for them first (a player can start before the
 * download ends).
 *
 * **Example**
 *
 * ```ts
 * const file = torrent.file(0)
 * yield* file.stream({ start: 0, end: 1023 }).pipe(Stream.runCollect) // the first KiB, once verified
 * ```
 */
export interface TorrentFileHandle {
  readonly index: number
  /** Path inside the download directory, `/`-separated. */
  readonly path: string
  readonly length: number
  /** Offset of the file's first byte in the torrent's payload. */
  readonly offset: number
  /**
   * The bytes of `[start, end]` in order, as soon as their pieces are verified. Fails with
   * a `TorrentError` for an unknown file or a range outside it, or if the torrent fails.
   */
  readonly stream: (range?: StreamRange) => Stream.Stream<Uint8Array, TorrentError>
}

export interface FileAccessDeps {
  readonly infoHash: string
  readonly meta: Metainfo
  readonly storage: TorrentStorage
  readonly picker: Picker<PeerKey>
  /** Selects a file for download (streaming an unselected file). */
  readonly ensureWanted: (file: number) => Effect.Effect<void>
  /** The current priorities (one per file). */
  readonly priorities: () => ReadonlyArray<FilePriority>
  /** Asks every session to request again (the focus changed). */
  readonly wakeAll: () => void
  /** The torrent's error, once it failed. */
  readonly error: () => string | null
}

export interface FileAccess {
  readonly file: (index: number) => TorrentFileHandle
  /** Called for every verified piece: wakes readers waiting for it. */
  readonly pieceVerified: (piece: number) => void
  /** Recomputes the focus (after a priority change). */
  readonly refocus: () => void
  /** The torrent stopped on an error (`deps.error()` says which): wakes every reader, to fail. */
  readonly stopped: () => void
}

export const makeFileAccess = (deps: FileAccessDeps): FileAccess => {
  const { meta, storage, picker } = deps
  const pieceLength = meta.pieceLength
  const windowPieces = Math.min(WINDOW_MAX_PIECES, Math.max(WINDOW_MIN_PIECES, Math.ceil(WINDOW_BYTES / pieceLength)))
  const waiters = new Map<number, Set<Deferred.Deferred<void>>>()
  /** Each live reader's window: the pieces it needs next, nearest first. */
  const windows = new Map<number, ReadonlyArray<number>>()
  let nextReader = 0

  const highPriorityPieces = (): Array<number> => {
    const out: Array<number> = []
    deps.priorities().forEach((priority, i) => {
      const f = meta.files[i]
      if (priority < 2 || f === undefined || f.padding || f.length === 0) return
      const last = Math.floor((f.offset + f.length - 1) / pieceLength)
      let taken = 0
      for (let p = Math.floor(f.offset / pieceLength); p <= last && taken < HIGH_PRIORITY_PIECES; p++) {
        if (storage.hasPiece(PieceIndex(p))) continue
        out.push(p)
        taken++
      }
    })
    return out
  }

  const refocus = () => {
    const focus: Array<number> = []
    for (const w of windows.values()) for (const p of w) if (!storage.hasPiece(PieceIndex(p))) focus.push(p)
    focus.push(...highPriorityPieces())
    picker.setFocus(focus)
    deps.wakeAll()
  }

  const wake = (piece: number) => {
    const waiting = waiters.get(piece)
    if (waiting !== undefined) {
      waiters.delete(piece)
      for (const d of waiting) Deferred.doneUnsafe(d, Effect.void)
    }
  }
  const stopped = () => {
    for (const piece of [...waiters.keys()]) wake(piece)
  }

  const failure = (detail: string) => new TorrentError({ infoHash: deps.infoHash, reason: "Storage", detail })

  /** Waits until `piece` is verified, or fails once the torrent has (woken by `wake` or `stopped`). */
  const awaitPiece = (piece: PieceIndex): Effect.Effect<void, TorrentError> =>
    Effect.suspend(() => {
      if (storage.hasPiece(piece)) return Effect.void
      const error = deps.error()
      if (error !== null) return Effect.fail(failure(error))
      const d = Deferred.makeUnsafe<void>()
      let set = waiters.get(piece)
      if (set === undefined) waiters.set(piece, set = new Set())
      set.add(d)
      return Deferred.await(d).pipe(
        Effect.ensuring(Effect.sync(() => set.delete(d))),
        Effect.andThen(awaitPiece(piece))
      )
    })

  const file = (index: number): TorrentFileHandle => {
    const f = meta.files[index]
    const handle = {
      index,
      path: f === undefined ? "" : f.path.join("/"),
      length: f?.length ?? 0,
      offset: f?.offset ?? 0
    }
    const stream = (range: StreamRange = {}): Stream.Stream<Uint8Array, TorrentError> => {
      if (f === undefined || f.padding) return Stream.fail(failure(`no file ${index} in ${meta.name}`))
      const start = range.start ?? 0
      const end = range.end ?? f.length - 1
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end >= f.length || start > end) {
        return f.length === 0 && range.start === undefined && range.end === undefined
          ? Stream.empty
          : Stream.fail(failure(`range ${start}-${end} is outside ${handle.path} (${f.length} bytes)`))
      }
      const first = f.offset + start
      const last = f.offset + end
      const lastPiece = Math.floor((f.offset + f.length - 1) / pieceLength)
      return Stream.unwrap(Effect.gen(function*() {
        yield* deps.ensureWanted(index)
        const id = nextReader++
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            windows.delete(id)
            refocus()
          })
        )
        const window = (piece: number) => {
          const w: Array<number> = []
          for (let p = piece; p <= Math.min(lastPiece, piece + windowPieces - 1); p++) w.push(p)
          windows.set(id, w)
          refocus()
        }
        return Stream.unfold(first, (position) =>
          Effect.gen(function*() {
            if (position > last) return undefined
            const piece = PieceIndex(Math.floor(position / pieceLength))
            const pieceStart = piece * pieceLength
            const length = Math.min(last + 1, pieceStart + pieceLength) - position
            window(piece)
            yield* awaitPiece(piece)
            const bytes = yield* storage.read(piece, position - pieceStart, length).pipe(
              Effect.mapError((e) => failure(e.message))
            )
            return [bytes, position + length] as const
          }))
      }))
    }
    return { ...handle, stream }
  }

  return { file, pieceVerified: wake, refocus, stopped }
}

/** Verified bytes per file, from the have set. */
export const fileProgress = (meta: Metainfo, hasPiece: (piece: PieceIndex) => boolean): ReadonlyArray<number> =>
  meta.files.map((f) => {
    if (f.length === 0) return 0
    const end = f.offset + f.length
    let done = 0
    for (let piece = Math.floor(f.offset / meta.pieceLength); piece * meta.pieceLength < end; piece++) {
      if (!hasPiece(PieceIndex(piece))) continue
      done += Math.min(end, (piece + 1) * meta.pieceLength) - Math.max(f.offset, piece * meta.pieceLength)
    }
    return done
  })
