/**
 * The simulated internet: hosts, links, faults and the trace.
 *
 * Link model (store and forward, FIFO queues, all in virtual time):
 * - each host has an uplink and a downlink with a rate in bytes/s and a queue: a transfer
 *   starts on the sender's uplink when the bytes before it have left, crosses the link
 *   (latency), then queues on the receiver's downlink in arrival order. Rates therefore
 *   emerge from the queues: five connections sharing a 10 MB/s uplink get ~2 MB/s each,
 *   and a fast seeder feeding a slow leecher is limited by the leecher's downlink.
 * - A write is one unit on the links (no segmentation): a 16 KiB block occupies a link
 *   for 16 KiB / rate, then the next one goes.
 * - one-way latency between two hosts = `latencyMs` (world default or per-pair override)
 *   + each host's `extraLatencyMs`.
 *
 * Faults: partitions (hosts in different groups cannot talk; TCP segments wait, like TCP
 * retransmissions would, and go through on heal; UDP is lost), host crashes (every TCP
 * connection of the host is reset, the peers see an RST after the link latency, its
 * listeners and UDP sockets are gone, connects to it are refused) and restarts.
 *
 * Randomness (UDP loss, duplication, reordering) comes from Effect's `Random`, seeded by
 * the world's seed, and time from Effect's `Clock`: one seed, one trace.
 */
import type { TraceSink } from "../trace/recorder.ts"
import { Effect, Random } from "effect"
import { type EventQueue, makeEventQueue } from "./events.ts"

export interface HostOptions {
  /** Uplink rate in bytes/s. Default: the world's. */
  readonly uploadBps?: number
  /** Downlink rate in bytes/s. Default: the world's. */
  readonly downloadBps?: number
  /** Added to the one-way latency of every link of this host (a far-away or slow peer). Default 0. */
  readonly extraLatencyMs?: number
}

export interface UdpConditions {
  /** Probability that a datagram is lost. */
  readonly loss: number
  /** Probability that a datagram arrives twice. */
  readonly duplicate: number
  /** Each datagram gets an extra uniform delay in [0, reorderMs): later sends may overtake. */
  readonly reorderMs: number
}

export interface WorldOptions {
  /** Seed of the network's own randomness (UDP conditions). Default "sim". */
  readonly seed?: string | number
  /** One-way latency of every link, unless overridden per pair. Default 25 ms. */
  readonly latencyMs?: number
  /** Default uplink / downlink rates in bytes/s. Default 10 MB/s up, 20 MB/s down. */
  readonly uploadBps?: number
  readonly downloadBps?: number
  readonly udp?: Partial<UdpConditions>
  /** A TCP connection's send buffer: its bytes waiting on the uplink before `write` suspends. Default 64 KiB. */
  readonly sendBufferBytes?: number
  /** Connections waiting in a listener's accept queue before new ones are refused. Default 128. */
  readonly backlog?: number
  /** Datagrams waiting in a UDP socket before new ones are dropped. Default 1024. */
  readonly udpReceiveBuffer?: number
  /**
   * Keep the trace's lines in memory for `traceLines`. Default true. A run of simulated days
   * that never reads its trace turns it off: the lines grow with every event, so a kept trace
   * is the one part of a long run's memory that must grow.
   */
  readonly keepTrace?: boolean
}

/** What a host's TCP connections must support when the host crashes. */
export interface CrashableEndpoint {
  /** Resets this end now and sends an RST to the other end. */
  readonly crash: () => void
}

export interface CrashableListener {
  readonly crash: () => void
}

export interface HostState {
  readonly address: string
  readonly uploadBps: number
  readonly downloadBps: number
  readonly extraLatencyMs: number
  upFree: number
  downFree: number
  alive: boolean
  /** Bumped on every crash: handles from before a crash are dead. */
  generation: number
  group: number
  nextPort: number
  readonly listeners: Map<number, CrashableListener>
  readonly udp: Map<number, CrashableListener>
  readonly connections: Set<CrashableEndpoint>
  bytesSent: number
  bytesReceived: number
}

export type TraceFields = Readonly<Record<string, string | number | boolean | null>>

export interface World {
  readonly events: EventQueue
  readonly options: Required<Omit<WorldOptions, "udp" | "seed">> & { readonly udp: UdpConditions }
  readonly addHost: (address: string, options?: HostOptions) => HostState
  readonly host: (address: string) => HostState | undefined
  readonly hosts: () => ReadonlyArray<HostState>
  /** Overrides the one-way latency between two hosts (both directions). */
  readonly setLatency: (a: string, b: string, latencyMs: number) => void
  readonly latency: (from: HostState, to: HostState) => number
  /**
   * Queues `size` bytes on the sender's uplink now; when they arrive, queues them on the
   * receiver's downlink and calls `onArrival` with the time they are through it.
   * Returns the time the last byte leaves the sender.
   */
  readonly transmit: (from: HostState, to: HostState, size: number, onArrival: (downlinkDone: number) => void) => number
  /**
   * `transmit` in two steps, for callers that schedule their own records: `uplink` queues the
   * bytes on the sender's uplink now and returns the time the last byte leaves (they reach the
   * receiver's downlink `latency` later); `downlink`, called at that arrival, queues them on the
   * receiver's downlink and returns the time they are through it.
   */
  readonly uplink: (from: HostState, to: HostState, size: number) => number
  readonly downlink: (from: HostState, to: HostState, size: number) => number
  readonly reachable: (a: HostState, b: HostState) => boolean
  /** Runs `retry` when the partition between `from` and `to` heals (TCP segments waiting to get through). */
  readonly hold: (retry: () => void) => void
  /** Cuts the given hosts off from everyone else (they can still talk among themselves). */
  readonly partition: (addresses: ReadonlyArray<string>) => void
  readonly heal: () => void
  readonly crash: (address: string) => void
  readonly restart: (address: string) => void
  /** A uniform number in [0, 1) from the world's seeded generator. */
  readonly random: () => number
  /** Payload bytes (TCP and UDP) carried from one host to another (by address). */
  readonly bytesBetween: (from: string, to: string) => number
  /** Every (from, to) address pair that carried bytes, in first-use order. */
  readonly traffic: () => ReadonlyArray<readonly [string, string, number]>
  readonly countBytes: (from: HostState, to: HostState, size: number) => void
  /** `countBytes` for one (from, to) pair, looked up once: a connection counts every delivery. */
  readonly pairCounter: (from: HostState, to: HostState) => (size: number) => void
  readonly trace: (kind: string, fields?: TraceFields) => void
  /** Where the simulated clients write their trace lines (the same list, in the order things happen). */
  readonly traceSink: TraceSink
  /** Trace lines so far (JSON, one event each, in the order they happened; docs/TRACE.md). */
  readonly traceLines: () => ReadonlyArray<string>
  readonly shutdown: Effect.Effect<void>
}

const pairKey = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`)

export const makeWorld = Effect.fnUntraced(function*(options: WorldOptions = {}) {
  const events = yield* makeEventQueue()
  const rng = yield* Effect.gen(function*() {
    return yield* Random.Random
  }).pipe(Random.withSeed(options.seed ?? "sim"))
  const resolved: World["options"] = {
    latencyMs: options.latencyMs ?? 25,
    uploadBps: options.uploadBps ?? 10_000_000,
    downloadBps: options.downloadBps ?? 20_000_000,
    sendBufferBytes: options.sendBufferBytes ?? 64 * 1024,
    backlog: options.backlog ?? 128,
    udpReceiveBuffer: options.udpReceiveBuffer ?? 1024,
    keepTrace: options.keepTrace ?? true,
    udp: {
      loss: options.udp?.loss ?? 0,
      duplicate: options.udp?.duplicate ?? 0,
      reorderMs: options.udp?.reorderMs ?? 0
    }
  }
  const hosts = new Map<string, HostState>()
  const latencies = new Map<string, number>()
  // Bytes per (from, to) pair: looked up by host objects on every delivery (no string keys);
  // `pairs` keeps first-use order for `traffic`.
  const pairBytes = new Map<HostState, Map<HostState, { n: number }>>()
  const pairs: Array<readonly [HostState, HostState, { n: number }]> = []
  const lines: Array<string> = []
  let held: Array<() => void> = []
  let nextGroup = 1

  // The network's and the scenario's own events, as `sim` lines of the shared trace format.
  const trace = (kind: string, fields: TraceFields = {}) => {
    let empty = true
    for (const _ in fields) {
      empty = false
      break
    }
    if (resolved.keepTrace) lines.push(JSON.stringify({ t: events.now(), ev: empty ? { type: "sim", kind } : { type: "sim", kind, data: fields } }))
  }

  const addHost = (address: string, hostOptions: HostOptions = {}): HostState => {
    const existing = hosts.get(address)
    if (existing !== undefined) return existing
    const state: HostState = {
      address,
      uploadBps: hostOptions.uploadBps ?? resolved.uploadBps,
      downloadBps: hostOptions.downloadBps ?? resolved.downloadBps,
      extraLatencyMs: hostOptions.extraLatencyMs ?? 0,
      upFree: 0,
      downFree: 0,
      alive: true,
      generation: 0,
      group: 0,
      nextPort: 49152,
      listeners: new Map(),
      udp: new Map(),
      connections: new Set(),
      bytesSent: 0,
      bytesReceived: 0
    }
    hosts.set(address, state)
    return state
  }

  const latency = (from: HostState, to: HostState): number => {
    if (from === to) return 0
    // Most worlds set no per-link latency: skip building the pair key (this runs per segment).
    const base = latencies.size === 0 ? resolved.latencyMs : latencies.get(pairKey(from.address, to.address)) ?? resolved.latencyMs
    return base + from.extraLatencyMs + to.extraLatencyMs
  }

  const uplink = (from: HostState, to: HostState, size: number): number => {
    const now = events.now()
    if (from === to) return now
    const start = Math.max(now, from.upFree)
    from.upFree = start + (size * 1000) / from.uploadBps
    return from.upFree
  }
  // The downlink slot is taken when the bytes arrive, in arrival order: a slow sender's
  // bytes still on their way never hold up bytes that arrive before them.
  const downlink = (from: HostState, to: HostState, size: number): number => {
    if (from === to) return events.now()
    const downStart = Math.max(events.now(), to.downFree)
    to.downFree = downStart + (size * 1000) / to.downloadBps
    return to.downFree
  }

  const transmit = (from: HostState, to: HostState, size: number, onArrival: (downlinkDone: number) => void): number => {
    const departed = uplink(from, to, size)
    events.at(departed + latency(from, to), () => onArrival(downlink(from, to, size)))
    return departed
  }

  const pairCell = (from: HostState, to: HostState): { n: number } => {
    let row = pairBytes.get(from)
    if (row === undefined) {
      row = new Map()
      pairBytes.set(from, row)
    }
    let cell = row.get(to)
    if (cell === undefined) {
      cell = { n: 0 }
      row.set(to, cell)
      pairs.push([from, to, cell])
    }
    return cell
  }
  // The pair's cell is made (and takes its place in `traffic`'s order) on the first count.
  const pairCounter = (from: HostState, to: HostState) => {
    let cell: { n: number } | undefined
    return (size: number): void => {
      from.bytesSent += size
      to.bytesReceived += size
      cell ??= pairCell(from, to)
      cell.n += size
    }
  }

  const crash = (address: string) => {
    const h = hosts.get(address)
    if (h === undefined || !h.alive) return
    trace("crash", { host: address })
    h.alive = false
    h.generation++
    for (const c of [...h.connections]) c.crash()
    h.connections.clear()
    for (const l of [...h.listeners.values()]) l.crash()
    h.listeners.clear()
    for (const u of [...h.udp.values()]) u.crash()
    h.udp.clear()
  }

  const world: World = {
    events,
    options: resolved,
    addHost,
    host: (address) => hosts.get(address),
    hosts: () => [...hosts.values()],
    setLatency: (a, b, ms) => { latencies.set(pairKey(a, b), ms) },
    latency,
    transmit,
    uplink,
    downlink,
    reachable: (a, b) => a.group === b.group,
    hold: (retry) => { held.push(retry) },
    partition: (addresses) => {
      const group = nextGroup++
      for (const a of addresses) {
        const h = hosts.get(a)
        if (h !== undefined) h.group = group
      }
      trace("partition", { hosts: addresses.length, group })
    },
    heal: () => {
      for (const h of hosts.values()) h.group = 0
      trace("heal", { held: held.length })
      const waiting = held
      held = []
      for (const retry of waiting) retry()
    },
    crash,
    restart: (address) => {
      const h = hosts.get(address)
      if (h === undefined || h.alive) return
      h.alive = true
      trace("restart", { host: address })
    },
    random: () => rng.nextDoubleUnsafe(),
    bytesBetween: (from, to) => {
      const a = hosts.get(from)
      const b = hosts.get(to)
      return a === undefined || b === undefined ? 0 : (pairBytes.get(a)?.get(b)?.n ?? 0)
    },
    traffic: () => pairs.map(([from, to, cell]) => [from.address, to.address, cell.n] as const),
    countBytes: (from, to, size) => {
      from.bytesSent += size
      to.bytesReceived += size
      pairCell(from, to).n += size
    },
    pairCounter,
    trace,
    traceSink: { write: (line) => { if (resolved.keepTrace) lines.push(line) } },
    traceLines: () => lines,
    shutdown: events.shutdown
  }
  return world
})

