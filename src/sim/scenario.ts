/**
 * Scenarios: a whole swarm of real clients on the simulated network, in virtual time.
 *
 * ```ts
 * const report = yield* runScenario({
 *   seed: 42,
 *   torrent: { size: 64 * MiB, pieceLength: 256 * KiB },
 *   seeds: 1,
 *   leechers: 50,
 *   network: { latencyMs: 25, uploadBps: 10e6, downloadBps: 20e6 },
 *   faults: [{ at: "full-copy", kind: "leave", hosts: ["seed-0"] }]
 * })
 * report.allComplete; report.peers[3].completedAtMs; report.trace // JSON lines
 * ```
 *
 * Hosts are named `seed-i`, `leecher-i`, `corrupt-i` (seeds whose every piece is
 * corrupted), `silent-i` (accept connections, never answer) and `tracker` (a BEP 15 UDP
 * tracker every client announces to, unless `tracker: false`; then leechers are given the
 * seeds' addresses, or with `lsd` find them by local service discovery). Faults run at a virtual time in ms, or at "full-copy": the moment
 * the leechers together hold every piece.
 *
 * The trace is JSON lines in the order things happened, in the format of a real run's
 * (docs/TRACE.md): what each client saw (connections and their closes, pieces verified and
 * failed with the peers that sent them, rechokes, bans, completion, tracker announces, and with
 * `traceMessages` every wire message), plus `sim` lines for the network and the scenario
 * (listen, connect, refused, crashes, partitions, faults, the tracker's requests). Same spec
 * and seed, same trace, byte for byte.
 */
import { PieceIndex } from "../ids.ts"
import { Clock, Effect, Exit } from "effect"
import type { ClientConfig } from "../client/index.ts"
import { MemoryStorage, type Storage } from "../storage/index.ts"
import type { TorrentEvent } from "../torrent/index.ts"
import { makeSimTorrent, type SimTorrent } from "./content.ts"
import { advanceUntil, inVirtualTime } from "./driver.ts"
import { type HostRuntime, type HostSpec, makeHost, PEER_PORT, type Role, type SimHost, TRACKER_PORT } from "./hosts.ts"
import { peerReports, type ScenarioReport, trafficByName, verifyMemoryCopies } from "./report.ts"
import { makeImmutableContents, makeSimHasher } from "./hashing.ts"
import { currentVirtualTime } from "./virtual-time.ts"
import { corruptedContent, makeSimStorage } from "./storage.ts"
import { type HostOptions, makeWorld, type WorldOptions } from "./world.ts"

export type FaultTime = number | "full-copy"

export type Fault =
  | { readonly at: FaultTime; readonly kind: "crash" | "restart" | "leave" | "partition"; readonly hosts: ReadonlyArray<string> }
  | { readonly at: FaultTime; readonly kind: "heal" }

export interface ScenarioSpec {
  /** Seeds Effect's Random for every client and the network. Default 1. */
  readonly seed?: string | number
  readonly torrent: { readonly size: number; readonly pieceLength: number; readonly name?: string }
  readonly seeds?: number
  readonly leechers: number
  readonly corruptPeers?: number
  readonly silentPeers?: number
  readonly network?: Omit<WorldOptions, "seed">
  /** Per-host link properties by host name (e.g. slow peers). */
  readonly links?: Readonly<Record<string, HostOptions>>
  /** Run a UDP tracker (default true); `intervalSeconds` is its announce interval. */
  readonly tracker?: boolean | { readonly intervalSeconds?: number }
  /**
   * Every client runs Local Service Discovery (BEP 14) on the simulated link (one multicast
   * group for the whole world), and with `tracker: false` no client is given an address:
   * peers find each other by LSD alone. Default false.
   */
  readonly lsd?: boolean
  /**
   * Client configuration for every client (host and port are the simulation's). Clients
   * speak TCP only unless `transports` says otherwise (see `SIM_TRANSPORTS`). Unlike a
   * real client's, the encryption default here is "disable": RC4 costs real CPU time on
   * every byte (50 leechers × 64 MiB: 36 s of CPU in plaintext, 93 s with RC4, measured)
   * and changes nothing in virtual time. Say `encryption: "prefer"` to simulate MSE.
   */
  readonly client?: Omit<ClientConfig, "host" | "port">
  /** Per-host client configuration by host name, on top of `client` (e.g. peers that require encryption). */
  readonly clients?: Readonly<Record<string, Omit<ClientConfig, "host" | "port">>>
  /**
   * "shared" (default): verified pieces are recorded, reads come from one shared copy of
   * the content (constant memory in the number of hosts). "memory": every host keeps the
   * bytes it received (MemoryStorage), and `verifyData` compares them with the content.
   */
  readonly storage?: "shared" | "memory"
  /**
   * How received blocks are carried into verification (with "shared" storage and hashing
   * threads; see hashing.ts). "bytes": every host copies each block into a piece buffer and
   * hashes every piece it completes, as on a real machine. "shared": blocks that are views
   * of the one shared content (or of the one corrupted copy corrupt hosts serve) are kept
   * by reference, and the SHA-1 of each distinct piece content is computed once; the client
   * still checks every digest against the metainfo. Same trace either way. Default:
   * "shared" once the leechers receive more than `SHARED_PAYLOAD_FROM` bytes together.
   */
  readonly payload?: "bytes" | "shared"
  readonly verifyData?: boolean
  readonly faults?: ReadonlyArray<Fault>
  /** Virtual time limit. Default one hour. */
  readonly deadlineMs?: number
  /** How often (virtual ms) the driver checks for completion. Default 250. */
  readonly stepMs?: number
  /** Put a line per verified piece in the trace. Default true. */
  readonly tracePieces?: boolean
  /**
   * Put every wire message of every client in the trace. Default false: a swarm's messages
   * are millions of lines (connections, closes, pieces, choking and announces are always in).
   */
  readonly traceMessages?: boolean
  /**
   * Record the trace (`report.trace`). Default true. False records nothing, the clients
   * included, and the run is otherwise the same: for a run whose trace nobody reads (a
   * thousand peers' kept lines and each connection's trace prefix were ~2.3 KB a session).
   */
  readonly keepTrace?: boolean
  /**
   * Clients hash completed pieces in worker threads shared by the whole simulation, at this
   * virtual speed (a piece takes size / rate of virtual time). Default 1 GB/s; 0 hashes inline,
   * on the simulation's own thread, in no virtual time.
   */
  readonly hashBytesPerSecond?: number
}

/** Leechers × size above which `payload` defaults to "shared". */
export const SHARED_PAYLOAD_FROM = 256 * 1024 * 1024

/** The payload mode a spec runs with (see `ScenarioSpec.payload`). */
export const payloadOf = (spec: ScenarioSpec): "bytes" | "shared" =>
  spec.storage === "memory" || spec.hashBytesPerSecond === 0
    ? "bytes"
    : spec.payload ?? (spec.leechers * spec.torrent.size > SHARED_PAYLOAD_FROM ? "shared" : "bytes")

const ROLE_NET: Record<Role, number> = { tracker: 0, seed: 1, leecher: 2, corrupt: 3, silent: 4 }

/** Deterministic address of the i-th host of a role: 10.<role>.<i / 250>.<i % 250 + 1>. */
export const addressOf = (role: Role, i: number): string => `10.${ROLE_NET[role]}.${Math.floor(i / 250)}.${(i % 250) + 1}`

const seedMemory = (storage: Storage["Service"], torrent: SimTorrent) =>
  Effect.scoped(Effect.gen(function*() {
    const opened = yield* storage.open(torrent.metainfo, { directory: "/sim" })
    const { pieceLength, pieceCount } = torrent.metainfo
    for (let i = 0; i < pieceCount; i++) {
      yield* opened.putBlock(PieceIndex(i), 0, torrent.content.subarray(i * pieceLength, Math.min(torrent.content.length, (i + 1) * pieceLength)))
    }
  })).pipe(Effect.orDie)

/** Runs the scenario inside the current virtual time (see `runScenario` for the usual entry). */
export const simulate = Effect.fn("Sim.simulate")(function*(spec: ScenarioSpec) {
  const seed = spec.seed ?? 1
  const time = yield* currentVirtualTime
  const keepTrace = spec.keepTrace ?? spec.network?.keepTrace ?? true
  const world = yield* makeWorld({ ...spec.network, seed: `${seed}/network`, keepTrace })
  yield* Effect.addFinalizer(() => world.shutdown)
  const useTracker = spec.tracker !== false
  const trackerUrl = useTracker ? `udp://${addressOf("tracker", 0)}:${TRACKER_PORT}/announce` : null
  const torrent = yield* makeSimTorrent({
    size: spec.torrent.size,
    pieceLength: spec.torrent.pieceLength,
    ...(spec.torrent.name === undefined ? {} : { name: spec.torrent.name }),
    trackers: trackerUrl === null ? [] : [trackerUrl]
  }).pipe(Effect.orDie)
  let corruptCopy: Uint8Array | undefined
  const corruptContent = () => (corruptCopy ??= corruptedContent(torrent.content, torrent.metainfo.pieceLength))
  const shared = {
    get: (h: string) => (h === torrent.infoHash ? torrent.content : undefined),
    corrupt: (h: string) => (h === torrent.infoHash ? corruptContent() : undefined)
  }
  const pieceCount = torrent.metainfo.pieceCount
  // Every client writes the shared trace format into the world's lines (docs/TRACE.md).
  const trace = { messages: spec.traceMessages ?? false, pieces: spec.tracePieces ?? true }

  const counts: Array<[Role, number]> = [
    ["tracker", useTracker ? 1 : 0],
    ["seed", spec.seeds ?? 1],
    ["corrupt", spec.corruptPeers ?? 0],
    ["silent", spec.silentPeers ?? 0],
    ["leecher", spec.leechers]
  ]
  const addresses = (role: Role) => Array.from({ length: counts.find(([r]) => r === role)?.[1] ?? 0 }, (_, i) => addressOf(role, i))
  const useLsd = spec.lsd === true
  const direct = [
    ...(useTracker || useLsd ? [] : [...addresses("seed"), ...addresses("corrupt")]),
    ...addresses("silent")
  ].map((host) => ({ host, port: PEER_PORT }))

  const completedAt = new Map<string, number>()
  const union = new Uint8Array(pieceCount)
  let unionCount = 0
  const fullCopyFaults: Array<Fault> = []
  let fullCopyFired = false
  let bans = 0
  let hashFailures = 0
  const runtimes = new Map<string, HostRuntime>()
  const memory = new Map<string, Storage["Service"]>()
  const contents = payloadOf(spec) === "shared" ? makeImmutableContents() : undefined
  if (contents !== undefined) {
    contents.add(torrent.content)
    if ((spec.corruptPeers ?? 0) > 0) contents.add(corruptContent())
  }
  const hashing = spec.hashBytesPerSecond === 0 ? {} : { hasher: yield* makeSimHasher(spec.hashBytesPerSecond, contents) }

  const applyFault = (fault: Fault) =>
    Effect.gen(function*() {
      if (fault.kind === "heal") return world.heal()
      if (fault.kind === "partition") {
        return world.partition(fault.hosts.map((n) => runtimes.get(n)?.host.address ?? n))
      }
      for (const name of fault.hosts) {
        const rt = runtimes.get(name)
        if (rt === undefined) continue
        world.trace(fault.kind, { host: name })
        if (fault.kind === "crash") {
          world.crash(rt.host.address)
          yield* rt.stop
        } else if (fault.kind === "leave") {
          rt.host.departed = true
          yield* rt.stop
          world.crash(rt.host.address)
        } else {
          world.restart(rt.host.address)
          yield* rt.start
        }
      }
    })

  const hooks = {
    onStarted: (host: SimHost, t: NonNullable<SimHost["torrent"]>) =>
      host.role !== "leecher" ? Effect.void : Effect.forkScoped(t.whenComplete.pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.flatMap((now) => Effect.sync(() => { if (!completedAt.has(host.name)) completedAt.set(host.name, now) })),
        Effect.ignore
      )).pipe(Effect.asVoid),
    onEvent: (host: SimHost, event: TorrentEvent) =>
      Effect.gen(function*() {
        if (event._tag === "PeerBanned") bans++
        if (event._tag === "HashFailed") hashFailures++
        if (event._tag !== "PieceVerified" || host.role !== "leecher" || union[event.piece] === 1) return
        union[event.piece] = 1
        unionCount++
        if (unionCount === pieceCount && !fullCopyFired) {
          fullCopyFired = true
          world.trace("full-copy")
          for (const f of fullCopyFaults) yield* applyFault(f)
        }
      })
  }

  for (const [role, count] of counts) {
    for (let i = 0; i < count; i++) {
      const name = role === "tracker" ? "tracker" : `${role}-${i}`
      const address = addressOf(role, i)
      let storage: Storage["Service"] | undefined
      if (role === "corrupt") storage = makeSimStorage(shared, { seeding: [torrent.infoHash], corrupt: true, ...hashing })
      else if (role === "seed" || role === "leecher") {
        if (spec.storage === "memory") {
          // A seed's pieces are put in before time runs (seedMemory): hashed inline, at once.
          storage = MemoryStorage.make(role === "seed" ? undefined : hashing.hasher)
          memory.set(name, storage)
          if (role === "seed") yield* seedMemory(storage, torrent)
        } else {
          storage = makeSimStorage(shared, role === "seed" ? { seeding: [torrent.infoHash], ...hashing } : hashing)
        }
      }
      const link = spec.links?.[name]
      const hostSpec: HostSpec = {
        name,
        address,
        role,
        ...(link === undefined ? {} : { link }),
        ...(storage === undefined ? {} : { storage }),
        client: { encryption: "disable", lsd: useLsd, ...spec.client, ...spec.clients?.[name] },
        peers: role === "leecher" ? direct : [],
        ...(keepTrace ? { trace } : {})
      }
      const rt = yield* makeHost(world, hostSpec, torrent, trackerUrl, hooks)
      runtimes.set(name, rt)
    }
  }

  for (const fault of spec.faults ?? []) {
    if (fault.at === "full-copy") fullCopyFaults.push(fault)
    else yield* Effect.forkScoped(Effect.sleep(`${fault.at} millis`).pipe(Effect.andThen(applyFault(fault))))
  }
  const heapBefore = process.memoryUsage().heapUsed
  // Each host starts, and runs until it waits, before the next one starts: the order of the
  // start-up lines then depends on nothing but the hosts' order.
  for (const rt of runtimes.values()) {
    yield* rt.start
    yield* time.settle
  }
  // All hosts at once: one after the other, the hosts still running spend that time
  // redialling the ones already gone (measured at 200 peers: ~20 virtual s of churn, most of
  // the real time). Also the way out when the run is interrupted (Ctrl-C), after crashing
  // every host: a graceful stop lets the others go on swapping blocks meanwhile.
  const stopAll = Effect.forEach(runtimes.values(), (rt) => rt.stop, { concurrency: "unbounded", discard: true })
  yield* Effect.addFinalizer((exit) =>
    Exit.hasInterrupts(exit)
      ? Effect.sync(() => { for (const rt of runtimes.values()) world.crash(rt.host.address) }).pipe(Effect.andThen(stopAll))
      : stopAll
  )

  const leechers = [...runtimes.values()].filter((rt) => rt.host.role === "leecher")
  const hostStates = [...runtimes.values()].flatMap((rt) => world.host(rt.host.address) ?? [])
  let peakSessions = 0
  let heapAtPeak = heapBefore
  const sample = () => {
    let open = 0
    for (const h of hostStates) open += h.connections.size
    if (open > peakSessions) {
      peakSessions = open
      heapAtPeak = process.memoryUsage().heapUsed
    }
  }
  const virtualMs = yield* advanceUntil({
    done: () => {
      sample()
      return leechers.every((rt) => rt.host.departed || completedAt.has(rt.host.name))
    },
    deadlineMs: spec.deadlineMs ?? 3_600_000,
    ...(spec.stepMs === undefined ? {} : { stepMs: spec.stepMs })
  })

  const peers = peerReports(world, [...runtimes.values()].map((rt) => rt.host), completedAt)
  const dataVerified = spec.verifyData === true && spec.storage === "memory"
    ? yield* verifyMemoryCopies(torrent, leechers.filter((rt) => completedAt.has(rt.host.name)).map((rt) => memory.get(rt.host.name)))
    : null
  // Shutting clients down takes virtual time too (e.g. `stopped` announces with a timeout).
  let stopped = false
  yield* Effect.forkScoped(stopAll.pipe(Effect.ensuring(Effect.sync(() => { stopped = true }))))
  yield* advanceUntil({ done: () => stopped, deadlineMs: virtualMs + 120_000 })
  const report: ScenarioReport = {
    seed,
    allComplete: leechers.every((rt) => rt.host.departed || completedAt.has(rt.host.name)),
    virtualMs,
    peers,
    bans,
    hashFailures,
    dataVerified,
    traffic: trafficByName(world, [...runtimes.values()].map((rt) => rt.host)),
    trace: world.traceLines(),
    cost: {
      events: time.events() + world.events.ran(),
      peakSessions,
      heapPerSession: peakSessions === 0 ? 0 : Math.max(0, Math.round((heapAtPeak - heapBefore) / peakSessions))
    }
  }
  return report
})

/** Runs a scenario in its own virtual time (a fresh virtual clock) and seeded Random. */
export const runScenario = (spec: ScenarioSpec) =>
  inVirtualTime(simulate(spec), { seed: spec.seed ?? 1 })
