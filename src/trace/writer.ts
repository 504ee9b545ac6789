/**
 * Where a real run's trace goes: `TraceWriter`, a service holding a `TraceSink` or nothing.
 *
 * When to use: the CLI (`--trace FILE`) and the daemon (a per-torrent switch) open a file with
 * `openTraceFile` or `TraceWriter.layerFile`, and hand its sink to `Client.add` (`trace`).
 * `TraceWriter.layerNone`, the default, traces nothing.
 *
 * Details: `write` is synchronous and only appends to a buffer; a fiber writes whole lines
 * to the file when 256 KiB are waiting, and at least once a second, so a killed run leaves
 * valid JSON lines up to the last complete one. Past 64 MiB waiting (a disk slower than the
 * swarm) lines are dropped and a `dropped` line says how many. Closing the scope writes
 * what is left.
 *
 * Example:
 * ```ts
 * const sink = yield* openTraceFile("run.jsonl") // needs FileSystem and a Scope
 * yield* client.add({ path: "x.torrent" }, { trace: { sink } })
 * ```
 */
import { Clock, Context, Effect, FileSystem, Latch, Layer, type PlatformError } from "effect"
import type { TraceSink } from "./recorder.ts"
import { traceMillis } from "./recorder.ts"

const FLUSH_BYTES = 256 * 1024
const MAX_BUFFERED = 64 * 1024 * 1024

/**
 * Opens `path` for a trace, truncating it (or, with `append`, adding to what a previous run
 * wrote: each run opens with its own `start` line); the sink lives as long as the scope.
 */
export const openTraceFile = Effect.fnUntraced(function*(path: string, options: { readonly append?: boolean } = {}) {
  const fs = yield* FileSystem.FileSystem
  const clock = yield* Clock.Clock
  const now = traceMillis(() => clock.currentTimeNanosUnsafe())
  const file = yield* fs.open(path, { flag: options.append === true ? "a" : "w" })
  const encoder = new TextEncoder()
  let buffer: Array<string> = []
  let buffered = 0
  let dropped = 0
  const ready = Latch.makeUnsafe(false)

  const take = (): Uint8Array | undefined => {
    if (dropped > 0 && buffered < MAX_BUFFERED) {
      buffer.push(`{"t":${now()},"ev":{"type":"dropped","lines":${dropped}}}\n`)
      dropped = 0
    }
    if (buffer.length === 0) return undefined
    const text = buffer.join("")
    buffer = []
    buffered = 0
    return encoder.encode(text)
  }
  const flush: Effect.Effect<void, PlatformError.PlatformError> = Effect.suspend(() => {
    const bytes = take()
    return bytes === undefined ? Effect.void : file.writeAll(bytes)
  })

  // Finalizers run last-added first: the flushing fiber is interrupted (after the write it
  // may be in, which must not be cut: its lines have left the buffer), then the rest goes
  // out. Written the other way round, the two writes raced and lines were lost.
  yield* Effect.addFinalizer(() => flush.pipe(Effect.ignore))
  yield* Effect.forkScoped(Effect.forever(
    ready.await.pipe(
      Effect.timeoutOption("1 second"),
      Effect.andThen(() => {
        ready.closeUnsafe()
        return Effect.uninterruptible(flush)
      })
    )
  ).pipe(Effect.ignore))

  const sink: TraceSink = {
    write: (line) => {
      if (buffered >= MAX_BUFFERED) {
        dropped++
        return
      }
      buffer.push(line, "\n")
      buffered += line.length + 1
      if (buffered >= FLUSH_BYTES) ready.openUnsafe()
    }
  }
  return sink
})

/** The trace sink of a run, if it traces. */
export class TraceWriter extends Context.Service<TraceWriter, { readonly sink: TraceSink | null }>()(
  "effect-torrent/TraceWriter"
) {
  /** Traces nothing (the default). */
  static readonly layerNone: Layer.Layer<TraceWriter> = Layer.succeed(TraceWriter, TraceWriter.of({ sink: null }))
  /** Traces into `path` (truncated), buffered; the file is complete once the layer is released. */
  static readonly layerFile = (path: string): Layer.Layer<TraceWriter, PlatformError.PlatformError, FileSystem.FileSystem> =>
    Layer.effect(TraceWriter, Effect.map(openTraceFile(path), (sink) => TraceWriter.of({ sink })))
}

/** A sink keeping lines in memory (tests, simulations). */
export const memorySink = (lines: Array<string> = []): TraceSink & { readonly lines: Array<string> } => ({
  lines,
  write: (line) => {
    lines.push(line)
  }
})

