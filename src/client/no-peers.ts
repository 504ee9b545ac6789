/**
 * The library's own "no peers" warning, so an embedder whose torrent sits at 0% learns why
 * (the CLI says the same in its own words, with a JSON form, and turns this off).
 */
import { Duration, Effect, SubscriptionRef } from "effect"
import type { Torrent } from "../torrent/index.ts"

/** How long a downloading torrent may have no peer before the warning. */
export const NO_PEERS_WARNING_AFTER = Duration.seconds(30)

/** Where the client could have found peers for one torrent. */
export interface PeerSourcesInUse {
  readonly trackers: boolean
  readonly dht: boolean
  readonly initialPeers: number
}

/** The trackers that failed, as `url: message` (the CLI's hint says them too). Pure. */
export const failingTrackers = (
  trackers: ReadonlyArray<{ readonly url: string; readonly ok: boolean; readonly message: string | null }>
): Array<string> => trackers.filter((t) => !t.ok).map((t) => `${t.url}: ${t.message ?? "failed"}`)

/** The warning's text from the torrent's state. Pure. */
export const noPeersMessage = (
  name: string,
  trackers: ReadonlyArray<{ readonly url: string; readonly ok: boolean; readonly message: string | null }>,
  sources: PeerSourcesInUse
): string => {
  const failing = failingTrackers(trackers)
  const why = [
    ...(failing.length > 0 ? [`tracker errors: ${failing.join("; ")}`] : []),
    ...(!sources.trackers ? ["trackers are off (ClientConfig.trackers)"] : trackers.length === 0 ? ["the torrent lists no trackers"] : []),
    ...(!sources.dht ? ["the DHT is off (ClientConfig.dht)"] : []),
    ...(sources.initialPeers === 0 ? ["no peers were given (AddOptions.peers)"] : [])
  ]
  return `${name}: no peers after ${Duration.toSeconds(NO_PEERS_WARNING_AFTER)}s${why.length === 0 ? "" : ` (${why.join("; ")})`}`
}

/** Waits NO_PEERS_WARNING_AFTER, then logs a warning if the torrent is downloading with no peer. */
export const warnWithoutPeers = (torrent: Torrent, sources: PeerSourcesInUse) =>
  Effect.gen(function*() {
    yield* Effect.sleep(NO_PEERS_WARNING_AFTER)
    const state = yield* SubscriptionRef.get(torrent.state)
    if (state.peers > 0 || state.status !== "downloading") return
    yield* Effect.logWarning(noPeersMessage(state.name, state.trackers, sources))
  })
