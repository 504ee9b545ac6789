/**
 * The uTP socket multiplexer: every uTP connection of one UDP socket, at the edge between
 * the pure state machine (connection.ts) and `Network.udp`.
 *
 * **When to use**
 *
 * `makeUtpSocket(udp, options)` takes over a bound `UdpSocket` (it subscribes to it) and
 * gives `connect` (outgoing connections) and a `Listener` (incoming ones); datagrams that
 * are not uTP go to `options.other` (the shared port hands them to the DHT and the UDP
 * tracker client, see port.ts).
 *
 * **Details**
 *
 * - Packets are matched to connections by their connection id and the sender's address;
 *   a packet for no connection is answered with ST_RESET (a remote that lost its state
 *   learns at once), except a RESET itself.
 * - Acknowledgements go out once per burst of datagrams (`DatagramHandler.idle`).
 * - A timer ticks every `tickMillis` while any connection exists (retransmissions).
 * - SYN floods: a SYN creates a half-open connection (answered, no data yet); they are
 *   capped per remote host and in total, and expire after `halfOpenMillis`; SYNs beyond
 *   a cap are dropped unanswered. Established incoming connections wait for `accept` in a
 *   bounded backlog (beyond it: ST_RESET). Without a listener every SYN gets ST_RESET, so
 *   the remote falls back to TCP at once.
 * - Time: microseconds from the Effect `Clock`'s monotonic time; ids and initial sequence
 *   numbers from Effect's `Random`: the simulator runs this unchanged and reproducibly.
 */
import { Cause, Clock, Deferred, Effect, Latch, Queue, Random, type Scope } from "effect"
import {
  type Address,
  ConnectionClosed,
  type Connection,
  formatAddress,
  type Listener,
  type NetError,
  type UdpSocket
} from "../net/index.ts"
import { emptyHeader, looksLikeUtp, parseInto, ST_RESET, ST_SYN } from "./codec.ts"
import * as Conn from "./connection.ts"
import type { UtpCounters } from "./state.ts"
import { makeStream, type UtpStream } from "./stream.ts"

export interface UtpSocketOptions {
  readonly config?: Partial<Conn.UtpConfig>
  /** Half-open incoming connections per remote host. Default 8. */
  readonly maxHalfOpenPerHost?: number
  /** Half-open incoming connections in total. Default 64. */
  readonly maxHalfOpen?: number
  /** A half-open connection that sends no data for this long is dropped. Default 10 s. */
  readonly halfOpenMillis?: number
  /** Established incoming connections waiting for `accept`. Default 128. */
  readonly backlog?: number
  /** Accept incoming connections (else SYNs are refused with ST_RESET). Default true. */
  readonly listen?: boolean
  /** Retransmission timer granularity. Default 50 ms. */
  readonly tickMillis?: number
  /** Datagrams that are not uTP. */
  readonly other?: (payload: Uint8Array, from: Address) => void
}

export interface UtpStats extends Readonly<UtpCounters> {
  readonly connections: number
  readonly halfOpen: number
  /** Datagrams that looked like uTP but failed to parse, or matched nothing. */
  readonly dropped: number
  readonly synsRefused: number
}

export interface UtpSocket {
  readonly address: Address
  /** Opens a uTP connection (SYN, then waits for the answer; the state machine's own
   * retries give up after about 7 s). The connection is closed with the caller's scope. */
  readonly connect: (address: Address) => Effect.Effect<Connection, NetError, Scope.Scope>
  /** Incoming connections, once their first data arrived. */
  readonly listener: Listener
  readonly stats: () => UtpStats
}

interface Entry {
  readonly remote: Address
  readonly recvId: number
  readonly stream: UtpStream
  readonly createdAt: number
  readonly incoming: boolean
  halfOpen: boolean
  touched: boolean
}

export const makeUtpSocket = Effect.fnUntraced(function*(udp: UdpSocket, options: UtpSocketOptions = {}) {
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  const config: Conn.UtpConfig = { ...Conn.DEFAULT_CONFIG, ...options.config }
  const maxHalfOpenPerHost = options.maxHalfOpenPerHost ?? 8
  const maxHalfOpen = options.maxHalfOpen ?? 64
  const halfOpenMicros = (options.halfOpenMillis ?? 10_000) * 1000
  const listening = options.listen ?? true
  const tickMillis = options.tickMillis ?? 50
  const local = udp.address
  const localText = formatAddress(local)

  const now = (): number => Number(clock.monotonicTimeNanosUnsafe() / 1000n)
  const byId = new Map<number, Array<Entry>>()
  let connections = 0
  let halfOpen = 0
  const halfOpenByHost = new Map<string, number>()
  const counters = { dropped: 0, synsRefused: 0 }
  const touched: Array<Entry> = []
  // counters of connections that are gone, so the totals never go down
  const past: UtpCounters = { packetsSent: 0, packetsResent: 0, timeouts: 0, fastResends: 0, packetsReceived: 0, duplicatesReceived: 0, overflowDrops: 0 }
  const addCounters = (into: UtpCounters, from: UtpCounters) => {
    for (const k of Object.keys(into) as Array<keyof UtpCounters>) into[k] += from[k]
  }
  const backlog = yield* Queue.dropping<Connection, NetError>(options.backlog ?? 128)
  const work = Latch.makeUnsafe(false)
  let gone: NetError | undefined

  const find = (from: Address, recvId: number): Entry | undefined => {
    const list = byId.get(recvId)
    if (list === undefined) return undefined
    for (const e of list) if (e.remote.port === from.port && e.remote.host === from.host) return e
    return undefined
  }

  const leaveHalfOpen = (e: Entry) => {
    if (!e.halfOpen) return
    e.halfOpen = false
    halfOpen--
    const n = (halfOpenByHost.get(e.remote.host) ?? 1) - 1
    if (n <= 0) halfOpenByHost.delete(e.remote.host)
    else halfOpenByHost.set(e.remote.host, n)
  }

  const remove = (e: Entry) => {
    const list = byId.get(e.recvId)
    if (list === undefined) return
    const i = list.indexOf(e)
    if (i < 0) return
    const c = e.stream.conn
    if (c !== undefined) addCounters(past, c.counters)
    list.splice(i, 1)
    if (list.length === 0) byId.delete(e.recvId)
    connections--
    leaveHalfOpen(e)
    if (connections === 0) work.closeUnsafe()
  }

  const add = (remote: Address, recvId: number, incoming: boolean, connectTimeoutMillis = 0): Entry => {
    const hooks = {
      now,
      send: (packet: Uint8Array) => {
        udp.sendNow(packet, remote)
      },
      onConnected: () => {
        leaveHalfOpen(entry)
        if (incoming && !Queue.offerUnsafe(backlog, entry.stream.connection)) {
          const c = entry.stream.conn
          if (c !== undefined) Conn.abort(c, entry.stream.io, now())
        }
      },
      onClosed: () => remove(entry)
    }
    const entry: Entry = {
      remote,
      recvId,
      stream: makeStream(local, remote, hooks, connectTimeoutMillis),
      createdAt: now(),
      incoming,
      halfOpen: false,
      touched: false
    }
    const list = byId.get(recvId)
    if (list === undefined) byId.set(recvId, [entry])
    else list.push(entry)
    connections++
    if (connections === 1) work.openUnsafe()
    return entry
  }

  const header = emptyHeader()

  const onSyn = (from: Address, t: number) => {
    const recvId = (header.connectionId + 1) & 0xffff
    const existing = find(from, recvId)
    if (existing !== undefined) {
      const c = existing.stream.conn
      if (c !== undefined) Conn.onRepeatedSyn(c, existing.stream.io, header, t)
      return
    }
    if (!listening || gone !== undefined) {
      counters.synsRefused++
      udp.sendNow(Conn.resetPacket(header.connectionId, 0, header.seqNr, t), from)
      return
    }
    const perHost = halfOpenByHost.get(from.host) ?? 0
    if (halfOpen >= maxHalfOpen || perHost >= maxHalfOpenPerHost) {
      counters.synsRefused++
      return
    }
    const entry = add(from, recvId, true)
    entry.halfOpen = true
    halfOpen++
    halfOpenByHost.set(from.host, perHost + 1)
    entry.stream.conn = Conn.acceptSyn(config, header, random.nextIntUnsafe() & 0xffff, entry.stream.io, t)
  }

  const datagram = (payload: Uint8Array, from: Address) => {
    if (!looksLikeUtp(payload)) {
      options.other?.(payload, from)
      return
    }
    if (parseInto(payload, header) !== undefined) {
      counters.dropped++
      return
    }
    const t = now()
    if (header.type === ST_SYN) return onSyn(from, t)
    const entry = find(from, header.connectionId)
    const c = entry?.stream.conn
    if (entry === undefined || c === undefined) {
      counters.dropped++
      // the remote has state we do not: tell it (never answer a RESET, or two sides could loop)
      if (header.type !== ST_RESET) udp.sendNow(Conn.resetPacket(header.connectionId, 0, header.seqNr, t), from)
      return
    }
    Conn.receive(c, header, payload, entry.stream.io, t)
    if (!entry.touched) {
      entry.touched = true
      touched.push(entry)
    }
  }

  const idle = () => {
    const t = now()
    for (const e of touched) {
      e.touched = false
      const c = e.stream.conn
      if (c !== undefined) Conn.burstEnd(c, e.stream.io, t)
    }
    touched.length = 0
  }

  const end = (error: NetError) => {
    gone = error
    Queue.failCauseUnsafe(backlog, Cause.fail(error))
    const t = now()
    for (const list of [...byId.values()]) {
      for (const e of list) {
        const c = e.stream.conn
        if (c !== undefined) Conn.abort(c, e.stream.io, t)
      }
    }
  }

  udp.subscribe({ datagram, idle, end })

  const tickAll = Effect.sync(() => {
    const t = now()
    for (const list of [...byId.values()]) {
      for (const e of list) {
        const c = e.stream.conn
        if (c === undefined) continue
        if (e.halfOpen && t - e.createdAt > halfOpenMicros) Conn.abort(c, e.stream.io, t)
        else Conn.tick(c, e.stream.io, t)
      }
    }
  })
  yield* Effect.forkScoped(Effect.forever(work.await.pipe(Effect.andThen(Effect.sleep(tickMillis)), Effect.andThen(tickAll))))
  // on shutdown: tell every remote, so none waits for a time-out
  yield* Effect.addFinalizer(() => Effect.sync(() => end(new ConnectionClosed({ address: localText }))))

  const connect = (address: Address): Effect.Effect<Connection, NetError, Scope.Scope> =>
    Effect.gen(function*() {
      if (gone !== undefined) return yield* gone
      let recvId = random.nextIntUnsafe() & 0xffff
      // ids in use with this remote (ours, or the one after it that the remote sends from)
      while (find(address, recvId) !== undefined || find(address, (recvId + 1) & 0xffff) !== undefined) {
        recvId = (recvId + 1) & 0xffff
      }
      const entry = add(address, recvId, false)
      const ids = { recvId, sendId: (recvId + 1) & 0xffff, seqNr: random.nextIntUnsafe() & 0xffff }
      entry.stream.conn = Conn.openOutgoing(config, ids, entry.stream.io, now())
      const connection = entry.stream.connection
      yield* Effect.addFinalizer(() => connection.close)
      yield* Effect.onInterrupt(Deferred.await(entry.stream.established), () =>
        Effect.sync(() => {
          const c = entry.stream.conn
          if (c !== undefined) Conn.abort(c, entry.stream.io, now())
        }))
      return connection
    })

  const accept: Effect.Effect<Connection, NetError, Scope.Scope> = Effect.gen(function*() {
    const connection = yield* Queue.take(backlog)
    yield* Effect.addFinalizer(() => connection.close)
    return connection
  })

  const socket: UtpSocket = {
    address: local,
    connect,
    listener: { address: local, accept },
    stats: () => {
      const totals = { ...past }
      for (const list of byId.values()) for (const e of list) if (e.stream.conn !== undefined) addCounters(totals, e.stream.conn.counters)
      return { connections, halfOpen, ...counters, ...totals }
    }
  }
  return socket
})

