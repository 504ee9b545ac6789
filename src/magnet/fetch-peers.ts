/**
 * The peers of a fetch that comes before a torrent can open (a magnet link's info dict,
 * a v2 torrent's piece layers): where their addresses come from, how they are dialled and
 * opened, and when the fetch gives up on finding more.
 *
 * Addresses come from the link (and the caller) and from the same `PeerSource`s a torrent
 * uses (trackers, DHT), and are kept as a torrent keeps them (torrent/peer-book.ts): in
 * the order they came, bounded, with the opening that worked. One failure and an address
 * is given up until a source announces it again; a peer that ended without giving what
 * the fetch wants failed. The torrent's dialler (torrent/dialler.ts) dials them, up to
 * `maxPeers` at once; each opens as a torrent's connections do (torrent/open-peer.ts:
 * MSE or plaintext under the encryption policy, one retry the other way) and is then the
 * caller's `session`.
 *
 * Everything (sockets, peer fibers, sources, the dialler) lives in the caller's scope.
 */
import { Clock, Deferred, Effect, type Exit, FiberSet, type Scope, Semaphore } from "effect"
import { type PeerKey, peerKey } from "../ids.ts"
import type { EncryptionPolicy } from "../mse/index.ts"
import type { Address } from "../net/index.ts"
import type { OurHandshake, PeerDialer } from "../peer/index.ts"
import {
  dialLoop,
  makeDialWake,
  makePeerBook,
  type OpenedPeer,
  openPeer,
  type PeerSource,
  type SwarmHooks
} from "../torrent/index.ts"
import type { MagnetFetchError } from "./errors.ts"
import { MetadataPeerDropped } from "./errors.ts"

/** Addresses remembered per fetch: a flood from a source cannot grow memory without bound. */
const MAX_KNOWN_ADDRESSES = 10_000
/** Peer endings kept for the error message. */
const MAX_NOTES = 8

export interface FetchPeersOptions<A> {
  /** Names the fetch in log lines ("metadata fetch", "piece layers"). */
  readonly label: string
  readonly ours: OurHandshake
  /** Addresses to try first (the magnet's x.pe, the caller's peers). */
  readonly peers: ReadonlyArray<Address>
  readonly sources: ReadonlyArray<PeerSource>
  /** What the sources are told about the torrent (trackers, stats, …). */
  readonly hooks: Pick<SwarmHooks, "port" | "isPrivate" | "trackers" | "stats" | "reportTracker">
  readonly maxPeers: number
  readonly dial: PeerDialer
  /** Handshakes: a slower peer is dropped. */
  readonly handshakeTimeoutMillis: number
  readonly encryption: EncryptionPolicy
  /** Peers banned in this fetch: never dialled, never added. */
  readonly banned: ReadonlySet<string>
  /** The fetch's outcome: once it is done nothing more is dialled. */
  readonly done: Deferred.Deferred<A, MagnetFetchError>
  /** What is done with an opened peer, until the fetch is done or the peer is dropped. */
  readonly session: (opened: OpenedPeer, key: PeerKey) => Effect.Effect<void, MetadataPeerDropped, Scope.Scope>
  /** After a session ended (and its address is booked as failed). */
  readonly ended?: (key: PeerKey) => Effect.Effect<void>
  /** The error once no peer is left and none can come (no sources): `tried` peers so far. */
  readonly noPeers: (tried: number, summary: string) => MagnetFetchError
}

export interface FetchPeers {
  /** How many peers were dialled. */
  readonly tried: () => number
  /** Peers tried and banned, and the last endings: for error messages. */
  readonly summary: () => string
  /** Notes an event worth telling in `summary` (the last few are kept). */
  readonly note: (text: string) => void
}

const describeCause = (exit: Exit.Exit<void, MetadataPeerDropped>): string => {
  if (exit._tag !== "Failure") return "closed"
  for (const reason of exit.cause.reasons) {
    if (reason._tag === "Fail") return reason.error.detail
    if (reason._tag === "Die") return `defect: ${String(reason.defect)}`
  }
  return "interrupted"
}

/** Starts finding, dialling and running the fetch's peers in the current scope. */
export const runFetchPeers = Effect.fnUntraced(function*<A>(options: FetchPeersOptions<A>) {
  const { banned, done } = options
  const book = makePeerBook({ maxFailures: 1, maxEntries: MAX_KNOWN_ADDRESSES })
  const opener = {
    config: { dial: options.dial, handshakeTimeoutMillis: options.handshakeTimeoutMillis, encryption: options.encryption },
    ours: options.ours,
    book
  }
  const wake = makeDialWake()
  const slots = Semaphore.makeUnsafe(Math.max(1, options.maxPeers))
  const fibers = yield* FiberSet.make()
  const notes: Array<string> = []
  let live = 0
  let tried = 0

  const note = (text: string) => {
    notes.push(text)
    if (notes.length > MAX_NOTES) notes.shift()
  }
  const summary = () =>
    `tried ${tried} peer(s)${banned.size > 0 ? `, banned ${banned.size}` : ""}` + (notes.length > 0 ? ` (${notes.join("; ")})` : "")

  const session = (address: Address, key: PeerKey) =>
    Effect.gen(function*() {
      const opened = yield* openPeer(opener, address).pipe(Effect.mapError((e) => new MetadataPeerDropped({ peer: key, detail: e.detail })))
      yield* options.session(opened, key)
    })

  // The peer's fate is noted before the dialler can hear of its end: when it was the last
  // peer, the dialler gives up at once, and the error names every fate.
  const ended = (key: PeerKey, exit: Exit.Exit<void, MetadataPeerDropped>) =>
    Effect.gen(function*() {
      const detail = Deferred.isDoneUnsafe(done) ? undefined : describeCause(exit)
      if (detail !== undefined) note(`${key}: ${detail}`)
      book.markDisconnected(key, true, yield* Clock.currentTimeMillis)
      live--
      wake.notify()
      if (detail !== undefined) yield* Effect.logDebug(`${options.label}: peer ${key} ended: ${detail}`)
      if (options.ended !== undefined) yield* options.ended(key)
    })

  const start = (address: Address, key: PeerKey) =>
    Effect.gen(function*() {
      if (Deferred.isDoneUnsafe(done) || banned.has(key)) return yield* slots.release(1)
      live++
      tried++
      // (a closed FiberSet, the fetch ending, interrupts instead of running: the slot goes back then)
      yield* FiberSet.run(
        fibers,
        Effect.scoped(session(address, key)).pipe(Effect.onExit((exit) => ended(key, exit)), Effect.ensuring(slots.release(1)))
      ).pipe(Effect.onInterrupt(() => slots.release(1)))
    })

  // Without sources nothing new can come: once the last peer is gone, give up.
  const idle = Effect.suspend(() =>
    options.sources.length === 0 && live === 0 && !Deferred.isDoneUnsafe(done)
      ? Deferred.fail(done, options.noPeers(tried, summary()))
      : Effect.void
  )

  const addPeers = (addresses: ReadonlyArray<Address>, source: string) =>
    Effect.gen(function*() {
      const wanted = addresses.filter((address) => !banned.has(peerKey(address)))
      const added = book.add(wanted, source, yield* Clock.currentTimeMillis)
      if (added > 0) yield* Effect.logDebug(`${options.label}: ${added} peer(s) from ${source}`)
      // (even none new: an address given up on is due again once a source names it)
      wake.notify()
    })

  const hooks: SwarmHooks = {
    ...options.hooks,
    infoHash: options.ours.infoHash,
    peerId: options.ours.peerId,
    completed: Effect.never,
    addPeers
  }
  yield* addPeers(options.peers, "magnet")
  for (const source of options.sources) yield* Effect.forkScoped(source(hooks))
  yield* Effect.forkScoped(dialLoop({ book, wake, take: (restore) => restore(slots.take(1)), giveBack: slots.release(1), start, idle }))
  return { tried: () => tried, summary, note } satisfies FetchPeers
})
