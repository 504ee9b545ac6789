/**
 * A small UDP tracker (BEP 15) for simulations, on any `Network` (a simulated host).
 *
 * - connect: hands out a connection id valid for two minutes (BEP 15: clients use it for
 *   one minute; the server accepts it a little longer).
 * - announce: records the peer under the packet's source IP and the announced port,
 *   forgets it on `stopped`, answers with up to `numwant` (default 50) other peers drawn
 *   at random (Effect's `Random`, so seeded runs repeat), IPv4 peers to IPv4 requesters
 *   and IPv6 peers to IPv6 requesters (6- and 18-byte entries).
 * - scrape: seeders, completed, leechers per info-hash.
 * - anything malformed or with an unknown connection id gets an error packet (action 3)
 *   when it carries a transaction id, and is dropped otherwise.
 * State lives in memory: a tracker restarted after a crash has forgotten every peer.
 */
import { Clock, Effect, Random } from "effect"
import type { Scope } from "effect"
import { toHex } from "../bytes.ts"
import { type Address, encodeCompact, encodeCompactList, formatAddress, ipFamily, type NetError, Network } from "../net/index.ts"

export interface TrackerServerOptions {
  /** Where to listen. */
  readonly bind: Address
  /** Announce interval told to clients, seconds. Default 120. */
  readonly intervalSeconds?: number
  /** Called for every request handled (for traces). */
  readonly onRequest?: (kind: "connect" | "announce" | "scrape" | "error", from: Address) => void
}

interface PeerEntry {
  readonly host: string
  readonly port: number
  left: number
}

interface Swarm {
  readonly peers: Map<string, PeerEntry>
  completed: number
}

const PROTOCOL_ID = 0x41727101980n
const CONNECTION_TTL_MS = 120_000
const DEFAULT_NUMWANT = 50
const MAX_NUMWANT = 200

const errorPacket = (transactionId: number, message: string): Uint8Array => {
  const text = new TextEncoder().encode(message)
  const out = new Uint8Array(8 + text.length)
  const v = new DataView(out.buffer)
  v.setUint32(0, 3)
  v.setUint32(4, transactionId)
  out.set(text, 8)
  return out
}

/** Runs the tracker in the current scope until interrupted or its socket fails. */
export const runTrackerServer = (options: TrackerServerOptions): Effect.Effect<never, NetError, Network | Scope.Scope> =>
  Effect.gen(function*() {
    const network = yield* Network
    const socket = yield* network.udp(options.bind)
    const interval = options.intervalSeconds ?? 120
    const swarms = new Map<string, Swarm>()
    const connections = new Map<bigint, number>()
    let nextConnection = BigInt(yield* Random.nextIntBetween(1, 0x7fffffff)) << 16n

    const announce = (p: Uint8Array, v: DataView, tid: number, from: Address) =>
      Effect.gen(function*() {
        const key = toHex(p.subarray(16, 36))
        const left = Number(v.getBigUint64(64))
        const event = v.getUint32(80)
        const numwantRaw = v.getInt32(92)
        const port = v.getUint16(96)
        const numwant = numwantRaw < 0 ? DEFAULT_NUMWANT : Math.min(numwantRaw, MAX_NUMWANT)
        let swarm = swarms.get(key)
        if (swarm === undefined) {
          swarm = { peers: new Map(), completed: 0 }
          swarms.set(key, swarm)
        }
        const peerKey = formatAddress({ host: from.host, port })
        if (event === 3) swarm.peers.delete(peerKey)
        else {
          const known = swarm.peers.get(peerKey)
          if (known === undefined) swarm.peers.set(peerKey, { host: from.host, port, left })
          else known.left = left
          if (event === 1) swarm.completed++
        }
        const family = ipFamily(from.host) ?? 4
        const candidates = [...swarm.peers.entries()]
          .filter(([k, e]) => k !== peerKey && encodeCompact(e, family) !== undefined)
          .map(([, e]) => e)
        const chosen = (yield* Random.shuffle(candidates)).slice(0, numwant)
        const peers = encodeCompactList(chosen, family)
        const out = new Uint8Array(20 + peers.length)
        const o = new DataView(out.buffer)
        let seeders = 0
        for (const e of swarm.peers.values()) if (e.left === 0) seeders++
        o.setUint32(0, 1)
        o.setUint32(4, tid)
        o.setUint32(8, interval)
        o.setUint32(12, swarm.peers.size - seeders)
        o.setUint32(16, seeders)
        out.set(peers, 20)
        return out
      })

    const scrape = (p: Uint8Array, tid: number) => {
      const count = Math.floor((p.length - 16) / 20)
      const out = new Uint8Array(8 + 12 * count)
      const o = new DataView(out.buffer)
      o.setUint32(0, 2)
      o.setUint32(4, tid)
      for (let i = 0; i < count; i++) {
        const swarm = swarms.get(toHex(p.subarray(16 + 20 * i, 36 + 20 * i)))
        let seeders = 0
        for (const e of swarm?.peers.values() ?? []) if (e.left === 0) seeders++
        o.setUint32(8 + 12 * i, seeders)
        o.setUint32(12 + 12 * i, swarm?.completed ?? 0)
        o.setUint32(16 + 12 * i, (swarm?.peers.size ?? 0) - seeders)
      }
      return out
    }

    const handle = (p: Uint8Array, from: Address) =>
      Effect.gen(function*() {
        if (p.length < 16) return undefined
        const v = new DataView(p.buffer, p.byteOffset, p.byteLength)
        const action = v.getUint32(8)
        const tid = v.getUint32(12)
        const now = yield* Clock.currentTimeMillis
        if (action === 0) {
          if (v.getBigUint64(0) !== PROTOCOL_ID) return errorPacket(tid, "bad protocol id")
          const id = nextConnection++
          connections.set(id, now)
          options.onRequest?.("connect", from)
          const out = new Uint8Array(16)
          const o = new DataView(out.buffer)
          o.setUint32(0, 0)
          o.setUint32(4, tid)
          o.setBigUint64(8, id)
          return out
        }
        const issued = connections.get(v.getBigUint64(0))
        if (issued === undefined || now - issued > CONNECTION_TTL_MS) {
          options.onRequest?.("error", from)
          return errorPacket(tid, "unknown connection id")
        }
        if (action === 1 && p.length >= 98) {
          options.onRequest?.("announce", from)
          return yield* announce(p, v, tid, from)
        }
        if (action === 2) {
          options.onRequest?.("scrape", from)
          return scrape(p, tid)
        }
        options.onRequest?.("error", from)
        return errorPacket(tid, "unsupported request")
      })

    // expired connection ids are dropped once a minute, so the map stays small
    yield* Effect.forkScoped(Effect.forever(Effect.gen(function*() {
      yield* Effect.sleep("60 seconds")
      const now = yield* Clock.currentTimeMillis
      for (const [id, at] of connections) if (now - at > CONNECTION_TTL_MS) connections.delete(id)
    })))

    while (true) {
      const datagram = yield* socket.receive
      const reply = yield* handle(datagram.payload, datagram.from)
      if (reply !== undefined) yield* socket.send(reply, datagram.from).pipe(Effect.ignore)
    }
  })
