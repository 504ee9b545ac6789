/**
 * Magnet swarms without a tracker: leechers are given only a magnet link and must find
 * the metadata (BEP 9) and the peers by the DHT (BEP 5) or by peer exchange (BEP 11).
 *
 * ```ts
 * const report = yield* runMagnetScenario({
 *   seed: 1, discovery: "dht", leechers: 5, torrent: { size: 4 * MiB, pieceLength: 64 * KiB }
 * })
 * report.allComplete; report.peers[1].discovered.dht; report.trace
 * ```
 *
 * - "dht": `dhtNodes` plain DHT nodes join first (see dht-scenario.ts); then the seeds
 *   and leechers, each running a DHT node that bootstraps off one plain node. Magnets
 *   name the info-hash only (no `tr`, no `x.pe`).
 * - "pex": no DHT, no tracker. Leecher 0's magnet names the seeds (`x.pe`); leecher i's
 *   names only leecher i-1, and it starts once leecher i-1 has the metadata (before
 *   that, i-1 could not serve it); leecher 0 starts 1 s after the seeds. Anyone else it meets, it learnt through PEX.
 *
 * Leechers keep what they receive (MemoryStorage), and `dataVerified` compares it with
 * the content. The trace holds the network's lines plus `metadata`, `discovered`,
 * `complete`, `disconnect`, `ban` and `magnet-failed` lines. Same spec, same trace.
 */
import { Clock, Deferred, Effect, Exit, Scope } from "effect"
import type { ClientConfig } from "../client/index.ts"
import { formatMagnet } from "../metainfo/index.ts"
import type { Address } from "../net/index.ts"
import { MemoryStorage, type Storage } from "../storage/index.ts"
import type { Torrent, TorrentEvent } from "../torrent/index.ts"
import { makeSimTorrent } from "./content.ts"
import { followEvents, type SimClient, simNodeId, startSimClient } from "./dht-hosts.ts"
import { DHT_PORT } from "./dht-hosts.ts"
import { dhtAddressOf, startDhtSwarm } from "./dht-scenario.ts"
import { advanceUntil, inVirtualTime } from "./driver.ts"
import { PEER_PORT } from "./hosts.ts"
import { verifyMemoryCopies } from "./report.ts"
import { addressOf } from "./scenario.ts"
import { makeSimStorage } from "./storage.ts"
import { type HostOptions, makeWorld, type WorldOptions } from "./world.ts"

export interface MagnetScenarioSpec {
  readonly seed?: string | number
  readonly torrent: { readonly size: number; readonly pieceLength: number; readonly name?: string }
  readonly discovery: "dht" | "pex"
  readonly seeds?: number
  readonly leechers: number
  /** Plain DHT nodes ("dht" only). Default 16. */
  readonly dhtNodes?: number
  readonly network?: Omit<WorldOptions, "seed">
  /** Per-host link properties by name (`seed-i`, `leecher-i`, `dht-i`). */
  readonly links?: Readonly<Record<string, HostOptions>>
  /** "dht": virtual ms between two leechers starting (the first starts 15 s after the seeds). Default 2000. */
  readonly leecherIntervalMs?: number
  /** Give up fetching a magnet's metadata after this long. Default 5 minutes. */
  readonly metadataTimeoutMs?: number
  readonly client?: Omit<ClientConfig, "host" | "port" | "dht">
  /** Virtual time limit. Default 30 minutes. */
  readonly deadlineMs?: number
}

export interface MagnetPeerReport {
  readonly name: string
  readonly address: string
  readonly role: "seed" | "leecher"
  /** When `add` returned with the fetched metadata (leechers), virtual ms. */
  readonly metadataAtMs: number | null
  readonly completedAtMs: number | null
  /** Why the magnet could not be resolved, if it could not. */
  readonly error: string | null
  /** Peer addresses the torrent learnt, by source ("dht", "pex", "initial"...). */
  readonly discovered: Readonly<Record<string, number>>
  /** TCP bytes received from seed hosts, and from every other host. */
  readonly bytesFromSeeds: number
  readonly bytesFromPeers: number
}

export interface MagnetScenarioReport {
  readonly seed: string | number
  readonly infoHash: string
  readonly magnet: string
  readonly allComplete: boolean
  readonly virtualMs: number
  /** Every leecher that completed holds the exact content. */
  readonly dataVerified: boolean
  readonly peers: ReadonlyArray<MagnetPeerReport>
  /** TCP bytes between host addresses. */
  readonly bytesBetween: (from: string, to: string) => number
  readonly trace: ReadonlyArray<string>
}

interface Record_ {
  readonly name: string
  readonly address: string
  readonly role: "seed" | "leecher"
  metadataAtMs: number | null
  completedAtMs: number | null
  error: string | null
  readonly discovered: Record<string, number>
  storage: Storage["Service"]
}

const eventLine = (event: TorrentEvent): [string, Record<string, string | number>] | undefined => {
  switch (event._tag) {
    case "PeersDiscovered":
      return ["discovered", { source: event.source, count: event.count }]
    case "PeerDisconnected":
      return ["disconnect", { peer: event.peer, reason: event.reason }]
    case "PeerBanned":
      return ["ban", { peer: event.peer }]
    case "Completed":
      return ["complete", {}]
    default:
      return undefined
  }
}

/** Runs the scenario inside the current virtual time (see `runMagnetScenario`). */
export const simulateMagnet = Effect.fn("Sim.simulateMagnet")(function*(spec: MagnetScenarioSpec) {
  const seed = spec.seed ?? 1
  const world = yield* makeWorld({ ...spec.network, seed: `${seed}/network` })
  yield* Effect.addFinalizer(() => world.shutdown)
  const torrent = yield* makeSimTorrent({
    size: spec.torrent.size,
    pieceLength: spec.torrent.pieceLength,
    ...(spec.torrent.name === undefined ? {} : { name: spec.torrent.name })
  }).pipe(Effect.orDie)
  const shared = { get: (h: string) => (h === torrent.infoHash ? torrent.content : undefined) }
  const infoHash = torrent.metainfo.infoHash ?? new Uint8Array(20)
  const magnetNaming = (peers: ReadonlyArray<Address>) =>
    formatMagnet({ infoHash, infoHashV2: null, name: null, trackers: [], webSeeds: [], peers: [...peers], selectOnly: null })
  const useDht = spec.discovery === "dht"
  const dhtNodes = useDht ? spec.dhtNodes ?? 16 : 0
  const joinIntervalMs = 100
  const seedsAt = dhtNodes * joinIntervalMs + 5_000
  const seedCount = spec.seeds ?? 1
  const seedAddresses = Array.from({ length: seedCount }, (_, i) => addressOf("seed", i))

  // Hosts live in their own scope, closed (in virtual time) before the report is made.
  const hosts = yield* Scope.fork(yield* Effect.scope, "parallel")
  const inHosts = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => effect.pipe(Scope.provide(hosts))

  if (useDht) {
    const links = spec.links ?? {}
    yield* inHosts(startDhtSwarm(world, { nodes: dhtNodes, seed, joinIntervalMs }))
    for (const name of Object.keys(links)) {
      const m = /^dht-(\d+)$/.exec(name)
      if (m !== null) world.addHost(dhtAddressOf(Number(m[1])), links[name])
    }
  }

  const records: Array<Record_> = []
  const dhtFor = (name: string, i: number) =>
    useDht
      ? { dht: { bootstrap: [`${dhtAddressOf(i % dhtNodes)}:${DHT_PORT}`], nodeId: simNodeId(`${seed}/client/${name}`) } }
      : {}
  const startClient = (record: Record_, i: number) => {
    const link = spec.links?.[record.name]
    return inHosts(startSimClient(world, {
      address: record.address,
      storage: record.storage,
      ...(link === undefined ? {} : { link }),
      ...dhtFor(record.name, i),
      ...(spec.client === undefined ? {} : { client: spec.client })
    }))
  }
  const follow = (record: Record_, added: Torrent) =>
    Effect.forkIn(
      added.whenComplete.pipe(
        Effect.andThen(Clock.currentTimeMillis),
        Effect.flatMap((now) => Effect.sync(() => { record.completedAtMs ??= now })),
        Effect.ignore
      ),
      hosts
    )
  const onEvent = (record: Record_) => (event: TorrentEvent) =>
    Effect.sync(() => {
      if (event._tag === "PeersDiscovered") record.discovered[event.source] = (record.discovered[event.source] ?? 0) + event.count
      const line = eventLine(event)
      if (line !== undefined) world.trace(line[0], { host: record.name, ...line[1] })
    })

  const runSeed = (record: Record_, i: number) =>
    Effect.gen(function*() {
      yield* Effect.sleep(seedsAt)
      const { client }: SimClient = yield* startClient(record, i)
      const added = yield* client.add(torrent.metainfo).pipe(Effect.orDie)
      yield* inHosts(followEvents(added, onEvent(record)))
    })

  // "pex": whether leecher i got the metadata (leecher i+1 waits for it)
  const leecherReady: Array<Deferred.Deferred<boolean>> = []
  const runLeecher = (record: Record_, i: number, ready: Deferred.Deferred<boolean>) =>
    Effect.gen(function*() {
      const previous = leecherReady[i - 1]
      if (useDht) yield* Effect.sleep(seedsAt + 15_000 + i * (spec.leecherIntervalMs ?? 2_000))
      else if (i === 0) yield* Effect.sleep(seedsAt + 1_000)
      else if (previous !== undefined && !(yield* Deferred.await(previous))) {
        record.error = `leecher-${i - 1} never got the metadata to pass on`
        return
      }
      const { client } = yield* startClient(record, dhtNodes + seedCount + i)
      const direct = useDht ? [] : i === 0 ? seedAddresses : [addressOf("leecher", i - 1)]
      const magnet = magnetNaming(direct.map((host) => ({ host, port: PEER_PORT })))
      const added = yield* client.add({ magnet }, { metadataTimeout: spec.metadataTimeoutMs ?? 300_000 }).pipe(
        Effect.tapError((e) => Effect.sync(() => {
          record.error = e.message
          world.trace("magnet-failed", { host: record.name, error: e.message })
        }))
      )
      record.metadataAtMs = yield* Clock.currentTimeMillis
      world.trace("metadata", { host: record.name })
      yield* inHosts(followEvents(added, onEvent(record)))
      yield* follow(record, added)
    }).pipe(
      Effect.ignore,
      Effect.ensuring(Effect.suspend(() => Deferred.succeed(ready, record.metadataAtMs !== null)))
    )

  for (let i = 0; i < seedCount; i++) {
    const record: Record_ = {
      name: `seed-${i}`, address: addressOf("seed", i), role: "seed", metadataAtMs: 0, completedAtMs: 0, error: null,
      discovered: {}, storage: makeSimStorage(shared, { seeding: [torrent.infoHash] })
    }
    records.push(record)
    yield* Effect.forkIn(runSeed(record, i), hosts)
  }
  const leechers: Array<Record_> = []
  for (let i = 0; i < spec.leechers; i++) {
    const record: Record_ = {
      name: `leecher-${i}`, address: addressOf("leecher", i), role: "leecher", metadataAtMs: null, completedAtMs: null,
      error: null, discovered: {}, storage: MemoryStorage.make()
    }
    records.push(record)
    leechers.push(record)
    const ready = yield* Deferred.make<boolean>()
    leecherReady.push(ready)
    yield* Effect.forkIn(runLeecher(record, i, ready), hosts)
  }

  const virtualMs = yield* advanceUntil({
    done: () => leechers.every((r) => r.completedAtMs !== null || r.error !== null),
    deadlineMs: spec.deadlineMs ?? 1_800_000
  })
  const completed = leechers.filter((r) => r.completedAtMs !== null)
  const dataVerified = yield* verifyMemoryCopies(torrent, completed.map((r) => r.storage))
  const peers = records.map((r): MagnetPeerReport => {
    let fromSeeds = 0
    for (const s of seedAddresses) fromSeeds += world.bytesBetween(s, r.address)
    return {
      name: r.name,
      address: r.address,
      role: r.role,
      metadataAtMs: r.metadataAtMs,
      completedAtMs: r.completedAtMs,
      error: r.error,
      discovered: { ...r.discovered },
      bytesFromSeeds: fromSeeds,
      bytesFromPeers: (world.host(r.address)?.bytesReceived ?? 0) - fromSeeds
    }
  })
  let closed = false
  yield* Effect.forkScoped(Scope.close(hosts, Exit.void).pipe(Effect.ensuring(Effect.sync(() => { closed = true }))))
  yield* advanceUntil({ done: () => closed, deadlineMs: virtualMs + 120_000 })
  const report: MagnetScenarioReport = {
    seed,
    infoHash: torrent.infoHash,
    magnet: magnetNaming([]),
    allComplete: completed.length === leechers.length,
    virtualMs,
    dataVerified,
    peers,
    bytesBetween: world.bytesBetween,
    trace: [...world.traceLines()]
  }
  return report
})

/** Runs a magnet scenario in its own virtual time (a fresh virtual clock) and seeded Random. */
export const runMagnetScenario = (spec: MagnetScenarioSpec) => inVirtualTime(simulateMagnet(spec), { seed: spec.seed ?? 1 })
