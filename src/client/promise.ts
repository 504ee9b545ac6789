/**
 * A Promise facade for code outside Effect.
 *
 * ```js
 * import { createClient } from "effect-torrent"
 * const client = await createClient({ downloadDirectory: "downloads" })
 * const torrent = await client.add("ubuntu.torrent")
 * const stop = torrent.onState((s) => console.log(`${(s.progress * 100).toFixed(1)}%`))
 * await torrent.whenComplete()
 * stop()
 * await client.close()
 * ```
 */
import * as NodeStream from "@effect/platform-node-shared/NodeStream"
import type { Readable } from "node:stream"
import { Effect, Fiber, ManagedRuntime, Stream, SubscriptionRef } from "effect"
import type { InfoHash } from "../ids.ts"
import type { StreamRange, Torrent, TorrentEvent, TorrentState } from "../torrent/index.ts"
import { type AddOptions, Client, type TorrentSource } from "./client.ts"
import type { ClientConfig } from "./config.ts"
import { layerNode } from "./node.ts"

/** One torrent of a `PromiseClient`: its state and events through listeners, and Promise-returning controls. */
export interface PromiseTorrent {
  readonly infoHash: InfoHash
  readonly name: string
  /** The current state. */
  readonly state: () => TorrentState
  /** Calls `listener` with the current state and every change; returns an unsubscribe function. */
  readonly onState: (listener: (state: TorrentState) => void) => () => void
  /** Calls `listener` for every event from now on; returns an unsubscribe function. */
  readonly onEvent: (listener: (event: TorrentEvent) => void) => () => void
  readonly pause: () => Promise<void>
  readonly resume: () => Promise<void>
  /** Resolves when every wanted piece is verified; rejects with a `TorrentError` on a storage failure. */
  readonly whenComplete: () => Promise<void>
  /** Stops the torrent; `deleteData` also deletes its files. */
  readonly remove: (options?: { readonly deleteData?: boolean }) => Promise<void>
  /**
   * One file (Metainfo.files order): `createReadStream({ start, end })` reads its bytes as
   * they arrive, the pieces just ahead of the reader first (`end` inclusive, like `fs`).
   */
  readonly file: (index: number) => {
    readonly path: string
    readonly length: number
    readonly createReadStream: (range?: StreamRange) => Readable
  }
}

/** The client as `createClient` returns it: add torrents, close it when done. */
export interface PromiseClient {
  readonly port: number | null
  /** A .torrent path, its bytes, or a parsed `Metainfo`. */
  readonly add: (source: string | TorrentSource, options?: AddOptions) => Promise<PromiseTorrent>
  /** Stops every torrent (sending `stopped` announces), closes files and sockets. */
  readonly close: () => Promise<void>
}

/**
 * Starts a client on the real machine, for code that does not use Effect: the same client as
 * `layerNode(config)`, with Promises and listeners instead of effects and streams.
 *
 * **When to use**
 *
 * From plain JavaScript or TypeScript. In an Effect program, use `Client` with `layerNode`
 * instead: typed errors, and the client's lifetime tied to a scope.
 *
 * **Details**
 *
 * Rejects when the client cannot start (its port is taken, say), after releasing whatever it
 * had started. Call `close()` when done: it stops every torrent cleanly (`stopped`
 * announces, resume records, files and sockets closed).
 *
 * **Example**
 *
 * ```js
 * import { createClient } from "effect-torrent"
 *
 * const client = await createClient({ downloadDirectory: "downloads", port: 0 })
 * const torrent = await client.add("ubuntu.torrent")
 * const stop = torrent.onState((s) => console.log(`${(s.progress * 100).toFixed(1)}%`))
 * await torrent.whenComplete()
 * stop()
 * await client.close()
 * ```
 */
export const createClient = async (config: ClientConfig = {}): Promise<PromiseClient> => {
  const runtime = ManagedRuntime.make(layerNode(config))
  // A layer that fails half-built (the port is taken, say) has already started parts (worker
  // threads, the DHT's socket): dispose of the runtime, which releases them, before rejecting.
  const client = await runtime.runPromise(Effect.service(Client)).catch(async (error: unknown): Promise<never> => {
    await runtime.dispose()
    throw error
  })

  const subscribe = <A>(stream: Stream.Stream<A>, listener: (a: A) => void) => {
    const fiber = runtime.runFork(Stream.runForEach(stream, (a) => Effect.sync(() => listener(a))))
    return () => {
      runtime.runFork(Fiber.interrupt(fiber))
    }
  }

  const wrap = (torrent: Torrent): PromiseTorrent => ({
    infoHash: torrent.infoHash,
    name: torrent.metainfo.name,
    state: () => SubscriptionRef.getUnsafe(torrent.state),
    onState: (listener) => subscribe(SubscriptionRef.changes(torrent.state), listener),
    onEvent: (listener) => subscribe(torrent.events, listener),
    pause: () => runtime.runPromise(torrent.pause),
    resume: () => runtime.runPromise(torrent.resume),
    whenComplete: () => runtime.runPromise(torrent.whenComplete),
    remove: (options) => runtime.runPromise(client.remove(torrent.infoHash, options)),
    file: (index) => {
      const file = torrent.file(index)
      return {
        path: file.path,
        length: file.length,
        createReadStream: (range) => NodeStream.toReadableNever(file.stream(range))
      }
    }
  })

  return {
    port: client.port,
    add: async (source, options) =>
      wrap(await runtime.runPromise(client.add(typeof source === "string" ? { path: source } : source, options))),
    close: () => runtime.dispose()
  }
}
