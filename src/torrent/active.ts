/**
 * A torrent's active part: its peer sources, web seeds, choker, PEX, the sessions'
 * housekeeping tick and the dialler. It runs in one scope (a fiber of the torrent's
 * `FiberHandle`): `pause` ends all of it, `resume` starts it again, and while it is down
 * `sessions` is null so incoming connections for the torrent are closed.
 */
import { Effect, FiberMap, Ref, Schedule } from "effect"
import type { TorrentLink } from "../peer/index.ts"
import { runChoker } from "../choker/index.ts"
import type { SwarmHooks } from "./config.ts"
import type { TorrentCore } from "./core.ts"
import { runPex } from "./pex.ts"
import { dialLoop, type SwarmDeps } from "./swarm.ts"
import { traceRechoke } from "./trace.ts"

/** Sessions' housekeeping (rates, request time-outs, keep-alive): one timer per torrent. */
const TICK = "1 second"

export const runActive = (
  core: TorrentCore,
  link: TorrentLink,
  deps: SwarmDeps,
  hooks: SwarmHooks,
  activeSessions: Ref.Ref<FiberMap.FiberMap<string> | null>
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { config, links, meta, picker, book, trace } = core
    const sessions = yield* FiberMap.make<string>()
    yield* Ref.set(activeSessions, sessions)
    yield* Effect.addFinalizer(() => Ref.set(activeSessions, null))
    for (const source of config.peerSources) yield* source(hooks)
    // BEP 52: a hybrid is in two swarms. Its v2 one (peers that know only its truncated
    // SHA-256 name, such as a client holding a `urn:btmh:` magnet) is announced and searched
    // too, as libtorrent does; those peers dial us by that name (client.ts routes it here).
    // Tracker status is reported from the v1 announces alone.
    if (meta.infoHash !== null && meta.infoHashV2 !== null) {
      const v2 = { ...hooks, infoHash: meta.infoHashV2.subarray(0, 20), reportTracker: () => Effect.void }
      for (const source of config.peerSources) yield* source(v2)
    }
    if (config.webSeeds !== undefined) yield* config.webSeeds(core.webSeedSlots.host(link, meta, book.isBanned))
    yield* Effect.forkScoped(runChoker({
      peers: Effect.sync(() =>
        [...links.values()].map(({ stats }) => ({
          key: stats.key,
          interested: stats.peerInterested,
          downloadRate: stats.downloadRate,
          uploadRate: stats.uploadRate,
          snubbed: stats.snubbed,
          connectedAt: stats.connectedAt,
          isSeed: stats.isSeed
        }))
      ),
      seeding: Effect.sync(() => picker.isComplete()),
      apply: (result) => Effect.sync(() => {
        traceRechoke(trace, result, links.size)
        for (const l of links.values()) l.setChoked(!result.unchoke.has(l.stats.key))
      })
    }, { config: { slots: config.uploadSlots } }))
    if (!meta.private) yield* Effect.forkScoped(runPex(links, (a) => config.transportMemory?.speaksUtp(a) ?? false, book.prefersEncryption))
    const tick = Effect.sync(() => { for (const l of links.values()) l.tick() })
    yield* Effect.forkScoped(Effect.schedule(tick, Schedule.spaced(TICK)))
    yield* dialLoop(deps, sessions)
  }).pipe(Effect.scoped)
