/**
 * The daemon's fetches before a torrent opens (a magnet's info dict, a v2 torrent's piece
 * layers), by info-hash, so they can be stopped and started over: a paused torrent does
 * nothing on the network, as in Transmission, and a resume starts its fetch again (it
 * restarts from nothing: what a stopped fetch had received is not kept). A fetch is
 * forgotten once its torrent opens.
 */
import { Effect, FiberMap } from "effect"
import type { Entry } from "./views.ts"

export type FetchPhase = "metadata" | "pieceLayers"

export interface Fetches {
  /** Registers `run` as the entry's fetch and starts it unless the entry is paused. */
  readonly start: (entry: Entry, phase: FetchPhase, run: Effect.Effect<void>) => Effect.Effect<void>
  /** Stops the entry's fetch if it has one (waiting for it to end); the entry waits in its phase. */
  readonly stop: (entry: Entry) => Effect.Effect<boolean>
  /** Starts the entry's stopped (or failed) fetch again; false when it has none. */
  readonly restart: (entry: Entry) => Effect.Effect<boolean>
  readonly forget: (infoHash: string) => void
}

/**
 * `background` runs the fetches; `discard` takes out of the client a torrent whose fetch was
 * stopped after the client opened it but before the entry got it (the next start adds it again).
 */
export const makeFetches = (background: FiberMap.FiberMap<string>, discard: (infoHash: string) => Effect.Effect<void>): Fetches => {
  const fetches = new Map<string, { readonly phase: FetchPhase; readonly run: Effect.Effect<void> }>()
  return {
    start: (entry, phase, run) =>
      Effect.suspend(() => {
        const hash = entry.record.infoHash
        const stoppable = run.pipe(
          Effect.onInterrupt(() => (entry.torrent !== null ? Effect.void : discard(hash))),
          Effect.ensuring(Effect.sync(() => { if (entry.torrent !== null) fetches.delete(hash) }))
        )
        entry.pending = phase
        fetches.set(hash, { phase, run: stoppable })
        return entry.record.paused ? Effect.void : FiberMap.run(background, hash, stoppable).pipe(Effect.asVoid)
      }),
    stop: (entry) =>
      Effect.gen(function*() {
        const fetch = fetches.get(entry.record.infoHash)
        if (entry.torrent !== null || fetch === undefined) return false
        yield* FiberMap.remove(background, entry.record.infoHash)
        // (one that opened its torrent meanwhile saw the record paused and paused it)
        if (entry.torrent === null) {
          entry.pending = fetch.phase
          entry.fetch = null
        }
        return true
      }),
    restart: (entry) =>
      Effect.gen(function*() {
        const fetch = fetches.get(entry.record.infoHash)
        if (entry.torrent !== null || fetch === undefined || (yield* FiberMap.has(background, entry.record.infoHash))) return false
        entry.error = null
        yield* FiberMap.run(background, entry.record.infoHash, fetch.run)
        return true
      }),
    forget: (infoHash) => { fetches.delete(infoHash) }
  }
}
