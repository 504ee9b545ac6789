/**
 * UDP trackers (BEP 15) over `Network.udp`: one socket shared by every UDP
 * tracker, a dispatcher fiber matching replies to requests by transaction id,
 * connection ids cached per tracker for one minute, and retransmission after
 * 15·2^n seconds. Time comes from Effect's Clock, transaction ids from Random.
 */
import { Clock, Deferred, Duration, Effect, Option, Random, Scope, Semaphore } from "effect"
import { type Address, type Datagram, formatAddress, ipFamily, isValidPort, Network, type UdpSocket } from "../net/index.ts"
import * as Codec from "./udp-codec.ts"
import type { AnnounceRequest, AnnounceResponse, ScrapeEntry, TrackerError } from "./types.ts"
import { TrackerFailure, TrackerProtocolError, TrackerUnreachable, TrackerRequestError } from "./types.ts"

export interface UdpTrackerConfig {
  /** Local address of the shared UDP socket. */
  readonly bind: Address
  /** Highest n in the 15·2^n s retransmit schedule (BEP 15: 8, i.e. 9 sends over ~2 hours). */
  readonly maxRetransmit: number
  /**
   * A socket to use instead of binding `bind` (the client's shared UDP port, whose
   * non-uTP, non-KRPC datagrams it receives). Its owner closes it.
   */
  readonly socket?: UdpSocket
}

/** BEP 15: a connection id may be used until one minute after it was received. */
const CONNECTION_ID_TTL_MS = 60_000

/** `udp://host:port[/...]` → the tracker's address. */
export const parseUdpUrl = (url: string): Address | TrackerRequestError => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return new TrackerRequestError({ url, detail: "not a valid URL" })
  }
  const port = Number(parsed.port)
  if (!isValidPort(port)) return new TrackerRequestError({ url, detail: "missing or invalid port" })
  const host = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname
  if (host.length === 0) return new TrackerRequestError({ url, detail: "missing host" })
  return { host, port }
}

export const makeUdpTracker = Effect.fnUntraced(function*(config: UdpTrackerConfig) {
  const network = yield* Network
  const layerScope = yield* Scope.Scope
  const pending = new Map<number, Deferred.Deferred<Datagram>>()
  const connectionIds = new Map<string, { readonly id: bigint; readonly receivedAt: number }>()
  const lock = yield* Semaphore.make(1)
  let socket: UdpSocket | undefined

  /** The shared socket, opened on first use and kept for the life of the service. */
  const getSocket: Effect.Effect<UdpSocket, TrackerError> = lock.withPermit(Effect.suspend(() => {
    if (socket !== undefined) return Effect.succeed(socket)
    return Effect.gen(function*() {
      const socketScope = yield* Scope.fork(layerScope)
      const s = config.socket ?? (yield* network.udp(config.bind).pipe(
        Scope.provide(socketScope),
        Effect.mapError((e) => new TrackerUnreachable({ url: `udp://${formatAddress(config.bind)}`, detail: e.message }))
      ))
      socket = s
      // Dispatcher: replies go to whoever waits for their transaction id; the rest is dropped.
      yield* Effect.gen(function*() {
        while (true) {
          const datagram = yield* s.receive
          const header = Codec.responseHeader(datagram.payload)
          const waiter = header === undefined ? undefined : pending.get(header.transactionId)
          if (waiter !== undefined) yield* Deferred.succeed(waiter, datagram)
        }
      }).pipe(
        // the socket died: forget it so the next request opens a fresh one
        // (the dead one is released with the service)
        Effect.ensuring(Effect.sync(() => {
          if (socket === s) socket = undefined
        })),
        Effect.ignore,
        Effect.forkIn(socketScope)
      )
      return s
    })
  }))

  const newTransactionId = Effect.gen(function*() {
    while (true) {
      const id = yield* Random.nextIntBetween(0, 0xffffffff)
      if (!pending.has(id)) return id
    }
  })

  /**
   * A transaction: an id registered with the dispatcher until `release`.
   * Retransmissions reuse the id, so a late reply to an earlier send still counts.
   */
  const openTransaction = Effect.gen(function*() {
    const id = yield* newTransactionId
    const reply = yield* Deferred.make<Datagram>()
    pending.set(id, reply)
    return { id, reply, release: () => pending.delete(id) }
  })

  const fail = (url: string, target: string, e: Codec.UdpParseError): TrackerError =>
    e._tag === "Failure"
      ? new TrackerFailure({ url, reason: e.reason })
      : new TrackerProtocolError({ url, detail: `${e.detail} (from ${target})` })

  const isParseError = (u: unknown): u is Codec.UdpParseError =>
    typeof u === "object" && u !== null && "_tag" in u && (u._tag === "Failure" || u._tag === "Invalid")

  /**
   * Runs `build(connectionId, transactionId)` against the tracker, first
   * getting a connection id when the cached one is missing or stale. Attempt n
   * waits 15·2^n s for each reply; a timeout moves on to attempt n+1.
   */
  const exchange = <A>(
    url: string,
    target: Address,
    build: (connectionId: bigint, transactionId: number) => Uint8Array,
    parse: (reply: Datagram) => Codec.UdpParseError | A
  ): Effect.Effect<A, TrackerError> =>
    Effect.gen(function*() {
      const key = formatAddress(target)
      const s = yield* getSocket
      const send = (payload: Uint8Array) =>
        s.send(payload, target).pipe(Effect.mapError((e) => new TrackerUnreachable({ url, detail: e.message })))
      const awaitReply = (reply: Deferred.Deferred<Datagram>, n: number) =>
        Deferred.await(reply).pipe(Effect.timeoutOption(Duration.seconds(15 * 2 ** n)))

      const open: Array<{ release: () => void }> = []
      const transaction = Effect.tap(openTransaction, (t) => Effect.sync(() => open.push(t)))
      return yield* Effect.gen(function*() {
        const request = yield* transaction
        let connect: Effect.Success<typeof openTransaction> | undefined
        for (let n = 0; n <= config.maxRetransmit; n++) {
          const now = yield* Clock.currentTimeMillis
          const cached = connectionIds.get(key)
          let connectionId = cached !== undefined && now - cached.receivedAt < CONNECTION_ID_TTL_MS ? cached.id : undefined
          if (connectionId === undefined) {
            connect ??= yield* transaction
            yield* send(Codec.connectRequest(connect.id))
            const got = yield* awaitReply(connect.reply, n)
            if (Option.isNone(got)) continue
            connect.release()
            connect = undefined // a later reconnect needs a fresh transaction
            const parsed = Codec.parseConnect(got.value.payload)
            if (isParseError(parsed)) return yield* fail(url, key, parsed)
            connectionId = parsed.connectionId
            connectionIds.set(key, { id: connectionId, receivedAt: yield* Clock.currentTimeMillis })
          }
          yield* send(build(connectionId, request.id))
          const got = yield* awaitReply(request.reply, n)
          if (Option.isNone(got)) continue
          const parsed = parse(got.value)
          if (isParseError(parsed)) {
            // an error may mean our connection id is no longer accepted
            connectionIds.delete(key)
            return yield* fail(url, key, parsed)
          }
          return parsed
        }
        return yield* new TrackerUnreachable({ url, detail: `no response after ${config.maxRetransmit + 1} attempts` })
      }).pipe(Effect.ensuring(Effect.sync(() => open.forEach((t) => t.release()))))
    })

  const announce = (url: string, req: AnnounceRequest, key: number): Effect.Effect<AnnounceResponse, TrackerError> =>
    Effect.suspend(() => {
      const target = parseUdpUrl(url)
      if (target instanceof TrackerRequestError) return Effect.fail(target)
      return exchange<AnnounceResponse>(
        url,
        target,
        (connectionId, tid) => Codec.announceRequest(connectionId, tid, req, key),
        (reply) => Codec.parseAnnounce(reply.payload, ipFamily(reply.from.host) === 6)
      )
    })

  const scrape = (url: string, infoHashes: ReadonlyArray<Uint8Array>): Effect.Effect<ReadonlyArray<ScrapeEntry>, TrackerError> =>
    Effect.suspend(() => {
      const target = parseUdpUrl(url)
      if (target instanceof TrackerRequestError) return Effect.fail(target)
      const batches: Array<ReadonlyArray<Uint8Array>> = []
      for (let i = 0; i < infoHashes.length; i += Codec.MAX_SCRAPE_HASHES) {
        batches.push(infoHashes.slice(i, i + Codec.MAX_SCRAPE_HASHES))
      }
      return Effect.forEach(batches, (batch) =>
        exchange<Array<ScrapeEntry>>(
          url,
          target,
          (connectionId, tid) => Codec.scrapeRequest(connectionId, tid, batch),
          (reply) => Codec.parseScrape(reply.payload, batch)
        )).pipe(Effect.map((parts) => parts.flat()))
    })

  return { announce, scrape } as const
})
