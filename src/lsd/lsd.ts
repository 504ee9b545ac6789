/**
 * Local Service Discovery (BEP 14): one multicast socket per client, through `Network`
 * (so it runs on the simulator unchanged), announcing the client's public torrents and
 * handing the peers it hears about to theirs.
 *
 * Rate limits: each torrent is announced when it starts and every `announceInterval`
 * (5 minutes) after; the client sends at most one datagram per `minInterval` (1 minute),
 * carrying every torrent due (several info-hashes per datagram, within 1400 bytes). An
 * announce heard from one address for one torrent is acted on at most once per
 * `minInterval`. Private torrents (BEP 27) are never announced nor looked up.
 */
import { Clock, Duration, Effect, Queue, Random, Result, Schedule, type Scope } from "effect"
import { toHex } from "../bytes.ts"
import { formatAddress, type Network, type NetError } from "../net/index.ts"
import type { PeerSource } from "../torrent/index.ts"
import { formatAnnounces, LSD_GROUP_V4, LSD_PORT, parseAnnounce } from "./codec.ts"

export interface LsdOptions {
  /** Address of the interface announces leave through and are heard on ("127.0.0.1" keeps them on loopback). */
  readonly interface: string
  /** Multicast hops (default 1: the local link). */
  readonly ttl?: number
  readonly group?: string
  /** Port of the group (BEP 14: 6771). */
  readonly port?: number
  readonly announceInterval?: Duration.Input
  readonly minInterval?: Duration.Input
}

/** Heard-from entries kept for the per-sender limit before the table is cleared. */
const MAX_HEARD = 4096

/**
 * Starts LSD in the caller's scope; the result is the peer source torrents run it through.
 *
 * **Example**
 *
 * ```ts
 * const lsd = yield* makeLsd(network, { interface: "127.0.0.1" })
 * // ClientConfig.lsd does this: lsd.source joins every torrent's peer sources
 * ```
 */
export const makeLsd = (network: Network["Service"], options: LsdOptions): Effect.Effect<{ readonly source: PeerSource }, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const group = options.group ?? LSD_GROUP_V4
    const groupPort = options.port ?? LSD_PORT
    const announceInterval = Duration.fromInputUnsafe(options.announceInterval ?? "5 minutes")
    const minInterval = Duration.fromInputUnsafe(options.minInterval ?? "1 minute")
    const socket = yield* network.udp(
      { host: group.includes(":") ? "::" : "0.0.0.0", port: groupPort },
      { reuseAddress: true, multicast: { group, interface: options.interface, ttl: options.ttl ?? 1 } }
    )
    const cookie = ((yield* Random.nextInt) >>> 0).toString(16).padStart(8, "0")
    /** Torrents by hex info-hash: where their peers go. */
    const torrents = new Map<string, (address: { host: string; port: number }) => Effect.Effect<void>>()
    const heard = new Map<string, number>()
    const due = yield* Queue.unbounded<{ readonly hash: string; readonly port: number }>()

    // The sender: at most one datagram per minInterval, with every torrent due by then.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      // takeAll waits for one entry and takes every one queued by then (take then takeAll
      // would wait for a second entry: the first announce then left 5 minutes late)
      const batch = yield* Queue.takeAll(due)
      const byPort = new Map<number, Array<string>>()
      for (const d of batch) {
        if (!torrents.has(d.hash)) continue
        const list = byPort.get(d.port) ?? []
        if (!list.includes(d.hash)) list.push(d.hash)
        byPort.set(d.port, list)
      }
      for (const [port, hashes] of byPort) {
        for (const datagram of formatAnnounces(group, port, hashes, cookie)) {
          yield* socket.send(datagram, { host: group, port: groupPort }).pipe(
            Effect.catch((e) => Effect.logDebug(`lsd: announce failed: ${e.message}`))
          )
          yield* Effect.sleep(minInterval)
        }
      }
    })))

    // The listener: announces of others, for torrents we have.
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const { payload, from } = yield* socket.receive
      const parsed = parseAnnounce(payload)
      if (Result.isFailure(parsed)) return yield* Effect.logDebug(`lsd: ignored datagram from ${formatAddress(from)}: ${parsed.failure}`)
      const announce = parsed.success
      if (announce.cookie === cookie) return
      const now = yield* Clock.currentTimeMillis
      for (const hash of announce.infoHashes) {
        const add = torrents.get(hash)
        if (add === undefined) continue
        const key = `${hash}|${from.host}|${announce.port}`
        const last = heard.get(key)
        if (last !== undefined && now - last < Duration.toMillis(minInterval)) continue
        if (heard.size >= MAX_HEARD) heard.clear()
        heard.set(key, now)
        yield* add({ host: from.host, port: announce.port })
      }
    })).pipe(Effect.catch((e) => Effect.logDebug(`lsd: socket closed: ${e.message}`))))

    const source: PeerSource = (hooks) => {
      if (hooks.isPrivate) return Effect.void
      const hash = toHex(hooks.infoHash.subarray(0, 20))
      return Effect.gen(function*() {
        torrents.set(hash, (address) => hooks.addPeers([address], "lsd"))
        yield* Effect.addFinalizer(() => Effect.sync(() => torrents.delete(hash)))
        const announce = Queue.offer(due, { hash, port: hooks.port })
        yield* Effect.forkScoped(Effect.repeat(announce, Schedule.spaced(announceInterval)))
      })
    }
    return { source }
  })
