/**
 * Running our own client in failure tests: a real client on 127.0.0.1 (NodeNetwork +
 * FileStorage), started in the caller's scope so several can run at once and one can be
 * killed by closing its scope; and an event log that subscribes at once, so no event
 * published after `recordEvents` returns is missed.
 */
import { FetchHttpClient } from "effect/http"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Context, Deferred, Duration, Effect, Layer, Stream, SubscriptionRef } from "effect"
import { Client, layerNode } from "../../src/client/index.ts"
import type { ClientConfig } from "../../src/client/index.ts"
import { NodeNetwork } from "../../src/net/index.ts"
import { FileStorage } from "../../src/storage/index.ts"
import type { Torrent, TorrentEvent, TorrentState } from "../../src/torrent/index.ts"

/**
 * A fresh client (its own storage and network layers) listening on an ephemeral 127.0.0.1 port;
 * no trackers, no DHT: peers come from `add`'s `peers` and from incoming connections.
 */
export const startClient = (downloadDirectory: string, config: Omit<ClientConfig, "trackers" | "dht"> = {}) =>
  Layer.build(
    Layer.fresh(
      Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory, lsd: false, ...config, trackers: false, dht: undefined }).pipe(
        Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
      )
    )
  ).pipe(Effect.map((context) => Context.get(context, Client)))

/**
 * The client as shipped (`layerNode`: trackers, and the DHT when `config.dht` is given)
 * on an ephemeral 127.0.0.1 port, living in the caller's scope.
 */
export const startNodeClient = (downloadDirectory: string, config: ClientConfig = {}) =>
  Layer.build(Layer.fresh(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory, ...config }))).pipe(
    Effect.map((context) => Context.get(context, Client))
  )

export interface EventLog {
  /** Every event seen so far, in order. */
  readonly all: () => ReadonlyArray<TorrentEvent>
  /** The first event (already seen or still to come) matching `predicate`; dies with the log on timeout. */
  readonly waitFor: (
    what: string,
    predicate: (event: TorrentEvent) => boolean,
    timeout?: Duration.Input
  ) => Effect.Effect<TorrentEvent>
}

const describe = (events: ReadonlyArray<TorrentEvent>): string =>
  events.filter((e) => e._tag !== "CheckProgress").map((e) => JSON.stringify(e)).join("\n  ")

/** Subscribes to the torrent's events now (before returning) and records them until the scope closes. */
export const recordEvents = (torrent: Torrent) =>
  Effect.gen(function*() {
    const pull = yield* Stream.toPull(yield* torrent.subscribe)
    const events: Array<TorrentEvent> = []
    const waiters = new Set<{ readonly predicate: (e: TorrentEvent) => boolean; readonly found: Deferred.Deferred<TorrentEvent> }>()
    yield* Effect.forkScoped(Effect.forever(
      pull.pipe(Effect.flatMap((batch) =>
        Effect.sync(() => {
          for (const event of batch) {
            events.push(event)
            for (const w of waiters) {
              if (w.predicate(event)) {
                waiters.delete(w)
                Deferred.doneUnsafe(w.found, Effect.succeed(event))
              }
            }
          }
        })
      ))
    ).pipe(Effect.ignore))
    const log: EventLog = {
      all: () => events,
      waitFor: (what, predicate, timeout = "10 seconds") =>
        Effect.gen(function*() {
          const seen = events.find(predicate)
          if (seen !== undefined) return seen
          const found = yield* Deferred.make<TorrentEvent>()
          const waiter = { predicate, found }
          waiters.add(waiter)
          return yield* Deferred.await(found).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () => Effect.die(new Error(`timed out after ${Duration.format(Duration.fromInputUnsafe(timeout))} waiting for ${what}; events:\n  ${describe(events)}`))
            }),
            Effect.ensuring(Effect.sync(() => waiters.delete(waiter)))
          )
        })
    }
    return log
  })

/** Waits for completion, dying with the event log if it does not come in time. */
export const awaitComplete = (torrent: Torrent, log: EventLog, timeout: Duration.Input = "15 seconds") =>
  torrent.whenComplete.pipe(
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.die(new Error(`download did not complete in time; events:\n  ${describe(log.all())}`))
    })
  )

/** The torrent's current published state. */
export const currentState = (torrent: Torrent) => SubscriptionRef.get(torrent.state)

/**
 * The first published state matching `predicate`. State is republished about once a
 * second, so counters read right after an event may lag; wait for them here.
 */
export const waitForState = (
  torrent: Torrent,
  what: string,
  predicate: (state: TorrentState) => boolean,
  timeout: Duration.Input = "5 seconds"
) =>
  SubscriptionRef.changes(torrent.state).pipe(
    Stream.filter(predicate),
    Stream.runHead,
    Effect.flatMap((found) => Effect.fromOption(found)),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new Error(`state never showed ${what}; last: ${JSON.stringify(torrent.state.value)}`))
    }),
    Effect.orDie
  )

export { waitUntil } from "./waiting.ts"
