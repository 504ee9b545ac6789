/**
 * The daemon's per-torrent trace switch: a torrent whose record says `trace` writes the
 * trace format (docs/TRACE.md) to `<state>/traces/<infoHash>.jsonl`.
 *
 * Details: the file is appended to across restarts and switches, each run opening with its
 * own `start` line, so turning the switch off and on again keeps the history. A torrent's
 * file is closed (its buffered lines written) when it is switched off, removed, or the
 * daemon stops.
 */
import { Effect, Exit, FileSystem, Option, Path, Scope, Stream } from "effect"
import { isCanonicalInfoHash } from "../ids.ts"
import type { TraceTarget } from "../trace/recorder.ts"
import { openTraceFile } from "../trace/writer.ts"
import { DaemonError } from "./errors.ts"

export interface Traces {
  /** The torrent's trace file as written so far (none before the switch was first on). */
  readonly read: (infoHash: string) => Effect.Effect<Option.Option<{ readonly size: number; readonly bytes: Stream.Stream<Uint8Array> }>>
  /** Opens the torrent's trace file for appending; an open one is closed first. */
  readonly open: (infoHash: string) => Effect.Effect<TraceTarget, DaemonError>
  /** Closes the torrent's trace file, if open, writing what was buffered. */
  readonly close: (infoHash: string) => Effect.Effect<void>
}

export const makeTraces = Effect.fn("Daemon.traces")(function*(root: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const directory = path.join(root, "traces")
  const scopes = new Map<string, Scope.Closeable>()
  const fileOf = (infoHash: string) => path.join(directory, `${infoHash}.jsonl`)

  const close = (infoHash: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      const scope = scopes.get(infoHash)
      if (scope === undefined) return Effect.void
      scopes.delete(infoHash)
      return Scope.close(scope, Exit.void)
    })
  yield* Effect.addFinalizer(() => Effect.forEach([...scopes.keys()], close, { discard: true }))

  const failure = (infoHash: string) => (e: { readonly message: string }) =>
    new DaemonError({ reason: "State", detail: `opening the trace of ${infoHash}: ${e.message}` })

  const open = (infoHash: string): Effect.Effect<TraceTarget, DaemonError> =>
    Effect.gen(function*() {
      // the name comes from a record, but a path is built from it: never trust it blindly
      if (!isCanonicalInfoHash(infoHash)) return yield* new DaemonError({ reason: "State", detail: `bad info-hash ${infoHash}` })
      yield* close(infoHash)
      yield* fs.makeDirectory(directory, { recursive: true }).pipe(Effect.mapError(failure(infoHash)))
      const scope = yield* Scope.make()
      const sink = yield* openTraceFile(fileOf(infoHash), { append: true }).pipe(
        Scope.provide(scope),
        Effect.provideService(FileSystem.FileSystem, fs),
        Effect.mapError(failure(infoHash)),
        Effect.onError(() => Scope.close(scope, Exit.void))
      )
      scopes.set(infoHash, scope)
      return { sink }
    })

  const read = (infoHash: string) =>
    Effect.gen(function*() {
      if (!isCanonicalInfoHash(infoHash)) return Option.none()
      const file = fileOf(infoHash)
      const info = yield* Effect.option(fs.stat(file))
      if (Option.isNone(info) || info.value.type !== "File") return Option.none()
      // the size at this moment: a line appended meanwhile waits for the next read
      const size = Number(info.value.size)
      return Option.some({ size, bytes: fs.stream(file, { bytesToRead: size }).pipe(Stream.orDie) })
    })

  const traces: Traces = { read, open, close }
  return traces
})
