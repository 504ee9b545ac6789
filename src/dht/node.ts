/**
 * A BEP 5 DHT node over `Network.udp`: answers other nodes' queries (ping,
 * find_node, get_peers, announce_peer), runs iterative lookups, bootstraps,
 * refreshes stale buckets and persists its routing table. All time comes from
 * Effect's Clock and all randomness from Effect's Random.
 */
import { Clock, Context, Effect, FiberSet, FileSystem, Layer, Result, type Scope } from "effect"
import { type Address, formatAddress, type NetError, Network } from "../net/index.ts"
import type { NodeInfo } from "./compact.ts"
import { type DhtConfig, parseHostPort } from "./config.ts"
import { DEFAULT_BOOTSTRAP } from "./config.ts"
import type { DhtQueryError } from "./errors.ts"
import { ID_LENGTH, idKey, randomBytes, randomId } from "./id.ts"
import {
  decodeMessage,
  encodeError,
  encodeResponse,
  ErrorCode,
  type KrpcQuery,
  type KrpcResponse,
  type QueryBody
} from "./krpc.ts"
import { lookup, type LookupResult } from "./lookup.ts"
import { makePeerStore, peersFor, storePeer } from "./peer-store.ts"
import { makeLimiter } from "./rate-limit.ts"
import { makeRpc } from "./rpc.ts"
import { decodeState, encodeState } from "./state.ts"
import * as Table from "./table.ts"
import * as Token from "./token.ts"

export interface DhtStats {
  readonly received: number
  /** Datagrams that were not valid KRPC (wrong types, lengths, bencode...). */
  readonly malformed: number
  readonly rateLimited: number
  readonly queriesAnswered: number
  readonly announcesRejected: number
  /** Responses matching no outstanding query (late, forged, or from the wrong address). */
  readonly unmatched: number
  readonly tableSize: number
  /** Info-hashes other nodes announced to us. */
  readonly storedInfoHashes: number
}

export interface AnnounceResult {
  readonly peers: ReadonlyArray<Address>
  /** Nodes that accepted our announce_peer. */
  readonly announcedTo: number
}

export class Dht extends Context.Service<Dht, {
  readonly id: Uint8Array
  /** The bound UDP address. */
  readonly address: Address
  /** Iterative get_peers lookup: the peers found. */
  readonly getPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  /** get_peers lookup, then announce_peer (with each node's token) to the K closest that answered. */
  readonly announce: (infoHash: Uint8Array, port: number) => Effect.Effect<AnnounceResult>
  /** Iterative find_node lookup: the K closest nodes that answered. */
  readonly findNode: (target: Uint8Array) => Effect.Effect<ReadonlyArray<NodeInfo>>
  /** find_node for our own id through the bootstrap nodes and the table; returns the table size. */
  readonly bootstrap: Effect.Effect<number>
  /** One query with retries (low level: tests and diagnostics). */
  readonly query: (address: Address, body: QueryBody) => Effect.Effect<KrpcResponse, DhtQueryError>
  /** Peers stored here by other nodes' announces. */
  readonly storedPeers: (infoHash: Uint8Array) => Effect.Effect<ReadonlyArray<Address>>
  readonly routingTable: Effect.Effect<Table.RoutingTable>
  readonly stats: Effect.Effect<DhtStats>
  /** Writes the state file now (also done when the node closes). */
  readonly save: Effect.Effect<void>
}>()("effect-torrent/Dht") {}

const loadState = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, path: string) {
  const bytes = yield* fs.readFile(path).pipe(Effect.option)
  if (bytes._tag === "None") return undefined
  const state = decodeState(bytes.value)
  if (Result.isFailure(state)) {
    yield* Effect.logWarning(`dht: ignoring state file ${path}: ${state.failure}`)
    return undefined
  }
  return state.success
})

export const make = Effect.fn("Dht.make")(function*(
  config: DhtConfig
): Effect.fn.Return<Dht["Service"], NetError, Network | FileSystem.FileSystem | Scope.Scope> {
  const network = yield* Network
  const fs = yield* FileSystem.FileSystem
  const saved = config.stateFile === undefined ? undefined : yield* loadState(fs, config.stateFile)
  const ownId = config.nodeId ?? saved?.id ?? (yield* randomId)
  const socket = yield* network.udp(config.bind)
  const bootstrapAddresses: ReadonlyArray<Address> = (config.bootstrap ?? DEFAULT_BOOTSTRAP).flatMap((b) => {
    const a = typeof b === "string" ? parseHostPort(b) : b
    return a === undefined ? [] : [a]
  })
  const rpc = yield* makeRpc(socket, ownId, {
    timeoutMillis: config.queryTimeoutMillis ?? 2000,
    attempts: config.queryAttempts ?? 2
  })
  const limiter = makeLimiter(
    config.globalRateLimit ?? { perSecond: 200, burst: 400 },
    config.sourceRateLimit ?? { perSecond: 20, burst: 50 }
  )

  let table = Table.empty(ownId, yield* Clock.currentTimeMillis)
  let secrets = Token.initialSecrets(yield* randomBytes(20), yield* Clock.currentTimeMillis)
  const store = makePeerStore()
  const pinging = new Set<string>()
  // background pings die with the node
  const background = yield* FiberSet.make()
  const counters = { received: 0, malformed: 0, rateLimited: 0, queriesAnswered: 0, announcesRejected: 0, unmatched: 0 }

  // ---- outgoing ------------------------------------------------------------

  const query = (address: Address, body: QueryBody, knownId?: Uint8Array) =>
    rpc.query(address, body).pipe(
      Effect.tap(({ from, response }) =>
        Clock.currentTimeMillis.pipe(Effect.flatMap((now) => noteHeard({ id: response.id, address: from }, "response", now)))
      ),
      Effect.map(({ response }) => response),
      Effect.tapError((e) =>
        e._tag === "DhtTimeout" && knownId !== undefined
          ? Clock.currentTimeMillis.pipe(Effect.map((now) => {
            table = Table.failed(table, knownId, now)
          }))
          : Effect.void
      )
    )

  /** Records a node; pings the questionable nodes of a full bucket so dead ones make room. */
  const noteHeard = (node: NodeInfo, kind: "response" | "query", now: number): Effect.Effect<void> => {
    const result = Table.heard(table, node, kind, now)
    table = result.table
    return Effect.forEach(result.ping, (entry) => {
      const key = idKey(entry.id)
      if (pinging.has(key)) return Effect.void
      pinging.add(key)
      return query(entry.address, { method: "ping" }, entry.id).pipe(
        Effect.ignore,
        Effect.ensuring(Effect.sync(() => pinging.delete(key))),
        (ping) => FiberSet.run(background, ping)
      )
    }, { discard: true })
  }

  const seedsFor = (target: Uint8Array, now: number) => Table.closest(table, target, Table.K, now)

  const runLookup = (target: Uint8Array, method: "find_node" | "get_peers", forceBootstrap: boolean) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const seeds = seedsFor(target, now)
      const useBootstrap = forceBootstrap || seeds.length < Table.K
      return yield* lookup({
        ownId,
        target,
        method,
        seeds,
        bootstrap: useBootstrap ? bootstrapAddresses : [],
        query: (address, body, knownId) => query(address, body, knownId)
      })
    })

  const getPeers = (infoHash: Uint8Array) =>
    runLookup(infoHash, "get_peers", false).pipe(Effect.map((r: LookupResult) => r.peers))

  const announce = Effect.fn("Dht.announce")(function*(infoHash: Uint8Array, port: number) {
    const result = yield* runLookup(infoHash, "get_peers", false)
    const accepted = yield* Effect.forEach(result.closest, ({ node, token }) =>
      token === undefined
        ? Effect.succeed(false)
        : query(node.address, { method: "announce_peer", infoHash, port, impliedPort: false, token }, node.id).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false)
        ), { concurrency: "unbounded" })
    return { peers: result.peers, announcedTo: accepted.filter((ok) => ok).length } satisfies AnnounceResult
  })

  const findNode = (target: Uint8Array) =>
    runLookup(target, "find_node", false).pipe(Effect.map((r) => r.closest.map((a) => a.node)))

  const bootstrap = runLookup(ownId, "find_node", true).pipe(Effect.map(() => Table.size(table)))

  // ---- incoming ------------------------------------------------------------

  const currentSecrets = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (Token.needsRotation(secrets, now)) secrets = Token.rotate(secrets, now, yield* randomBytes(20))
    return secrets
  })

  const reply = (bytes: Uint8Array, to: Address) => socket.send(bytes, to).pipe(Effect.ignore)

  const answer = Effect.fnUntraced(function*(q: KrpcQuery, from: Address, now: number) {
    if (!q.readOnly) yield* noteHeard({ id: q.id, address: from }, "query", now)
    const body = q.body
    switch (body.method) {
      case "ping":
        return yield* reply(encodeResponse(q.t, ownId), from)
      case "find_node":
        return yield* reply(encodeResponse(q.t, ownId, { nodes: seedsFor(body.target, now) }), from)
      case "get_peers": {
        const s = yield* currentSecrets
        const values = peersFor(store, idKey(body.infoHash), now)
        return yield* reply(
          encodeResponse(q.t, ownId, {
            token: Token.tokenFor(s, from.host),
            nodes: seedsFor(body.infoHash, now),
            ...(values.length > 0 ? { values } : {})
          }),
          from
        )
      }
      case "announce_peer": {
        const s = yield* currentSecrets
        if (!Token.validToken(s, from.host, body.token)) {
          counters.announcesRejected++
          return yield* reply(encodeError(q.t, ErrorCode.Protocol, "bad token"), from)
        }
        storePeer(store, idKey(body.infoHash), { host: from.host, port: body.impliedPort ? from.port : body.port }, now)
        return yield* reply(encodeResponse(q.t, ownId), from)
      }
    }
  })

  const handle = Effect.fnUntraced(function*(payload: Uint8Array, from: Address) {
    counters.received++
    const now = yield* Clock.currentTimeMillis
    const decoded = decodeMessage(payload)
    if (Result.isFailure(decoded)) {
      counters.malformed++
      const e = decoded.failure
      if (e.isQuery && e.transactionId !== undefined && limiter(formatAddress(from), now)) {
        const code = e.reason === "UnknownMethod" ? ErrorCode.MethodUnknown : ErrorCode.Protocol
        yield* reply(encodeError(e.transactionId, code, e.message), from)
      }
      return
    }
    const message = decoded.success
    if (message._tag === "Query") {
      if (!limiter(formatAddress(from), now)) {
        counters.rateLimited++
        return
      }
      counters.queriesAnswered++
      return yield* answer(message, from, now)
    }
    if (!(yield* rpc.deliver(message, from))) counters.unmatched++
  })

  yield* Effect.forkScoped(Effect.gen(function*() {
    for (;;) {
      const datagram = yield* socket.receive
      yield* handle(datagram.payload, datagram.from)
    }
  }).pipe(
    Effect.catchTag("ConnectionClosed", () => Effect.void),
    Effect.catchCause((cause) => Effect.logError("dht: receive loop stopped", cause))
  ))

  // ---- state, bootstrap, refresh --------------------------------------------

  if (saved !== undefined) {
    const now = yield* Clock.currentTimeMillis
    // loaded nodes are questionable until they answer; the bootstrap lookup asks them
    for (const node of saved.nodes) table = Table.heard(table, node, "query", now).table
  }

  const save = config.stateFile === undefined ? Effect.void : Effect.gen(function*() {
    const path = config.stateFile ?? ""
    const bytes = encodeState({ id: ownId, nodes: Table.allNodes(table) })
    const tmp = `${path}.tmp`
    yield* fs.writeFile(tmp, bytes)
    yield* fs.rename(tmp, path)
  }).pipe(Effect.catchCause((cause) => Effect.logWarning("dht: saving state failed", cause)))
  yield* Effect.addFinalizer(() => save)

  const refreshStale = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    for (const index of Table.staleBuckets(table, now)) {
      const target = Table.idInBucket(table, index, yield* randomBytes(ID_LENGTH))
      table = Table.touchBucket(table, index, now)
      yield* runLookup(target, "find_node", false)
    }
  })
  const refreshEvery = config.refreshCheckMillis ?? 60_000
  yield* Effect.forkScoped(Effect.forever(Effect.sleep(refreshEvery).pipe(Effect.andThen(refreshStale))))
  if (config.bootstrapOnStart ?? true) yield* Effect.forkScoped(bootstrap)

  return Dht.of({
    id: ownId,
    address: socket.address,
    getPeers,
    announce,
    findNode,
    bootstrap,
    query: (address, body) => query(address, body),
    storedPeers: (infoHash) => Clock.currentTimeMillis.pipe(Effect.map((now) => peersFor(store, idKey(infoHash), now))),
    routingTable: Effect.sync(() => table),
    stats: Effect.sync(() => ({ ...counters, tableSize: Table.size(table), storedInfoHashes: store.size })),
    save
  })
})

export const layer = (config: DhtConfig): Layer.Layer<Dht, NetError, Network | FileSystem.FileSystem> =>
  Layer.effect(Dht, make(config))
