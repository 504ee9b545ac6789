/**
 * Local Service Discovery (BEP 14): one multicast socket per client, through `Network`
 * (so it runs on the simulator unchanged), announcing the client's public torrents and
 * handing the peers it hears about to theirs.
 *
 * Rate limits: each torrent is announced when it starts and every `announceInterval`
 * (5 minutes) after, up to a minute early so torrents share datagrams; the client sends at
 * most one datagram per `minInterval` (1 minute), with as many torrents due as fit in 1400
 * bytes (plan.ts). An announce heard from one address for one torrent is acted on at most
 * once per `minInterval`. Private torrents (BEP 27) are never announced nor looked up.
 */
import { Clock, Duration, Effect, Queue, Random, Result, type Scope } from "effect"
import { toHex } from "../bytes.ts"
import { type Address, formatAddress, type Network, type NetError } from "../net/index.ts"
import type { PeerSource } from "../torrent/index.ts"
import { formatAnnounces, hostHeader, LSD_GROUP_V4, LSD_PORT, parseAnnounce } from "./codec.ts"
import { planAnnounce } from "./plan.ts"

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
    /** Torrents by hex info-hash: where their peers go, and when each is due for an announce. */
    const torrents = new Map<string, { readonly add: (address: Address) => Effect.Effect<void>; readonly port: number; at: number }>()
    const heard = new Map<string, number>()
    // A torrent started: the sender looks again (one pending signal is enough).
    const started = yield* Queue.sliding<void>(1)
    const minMs = Duration.toMillis(minInterval)

    // The sender: one datagram, then at least minInterval until the next (plan.ts decides what).
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const due = [...torrents].map(([hash, t]) => ({ hash, port: t.port, at: t.at }))
      const plan = planAnnounce(due, now, minMs, hostHeader(group), cookie)
      if (plan._tag === "Wait") {
        const wake = Queue.take(started)
        return yield* plan.until === null ? wake : Effect.raceFirst(wake, Effect.sleep(Duration.millis(plan.until - now)))
      }
      for (const hash of plan.hashes) {
        const t = torrents.get(hash)
        if (t !== undefined) t.at = now + Duration.toMillis(announceInterval)
      }
      for (const datagram of formatAnnounces(group, plan.port, plan.hashes, cookie)) {
        yield* socket.send(datagram, { host: group, port: groupPort }).pipe(
          Effect.catch((e) => Effect.logDebug(`lsd: announce failed: ${e.message}`))
        )
      }
      yield* Effect.sleep(minInterval)
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
        const add = torrents.get(hash)?.add
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
        const now = yield* Clock.currentTimeMillis
        torrents.set(hash, { add: (address) => hooks.addPeers([address], "lsd"), port: hooks.port, at: now })
        yield* Effect.addFinalizer(() => Effect.sync(() => torrents.delete(hash)))
        yield* Queue.offer(started, undefined)
      })
    }
    return { source }
  })
