/**
 * Choosing a transport per peer: uTP first, TCP as the fallback (or any order a client is
 * configured with), and remembering which one reached each peer.
 *
 * **When to use**
 *
 * `transportDialer` composes one `PeerDialer` per transport into the dialler a torrent
 * uses (peer/dialer.ts). `makeTransportMemory` is the client-wide record both the
 * dialler and peer exchange (BEP 11's flag 0x04, "supports uTP") read and write.
 *
 * **Details**
 *
 * - The first transport in order gets `fallbackAfter` to connect; then (or as soon as
 *   it fails) the next one starts too, and the first to connect wins: the loser is
 *   interrupted and its connection, if any, closed. A peer that never answers uTP (a
 *   TCP-only client) costs `fallbackAfter`, once: the memory puts TCP first next time.
 *   The delay may depend on the peer (the client gives local peers a short one).
 * - Order per peer: the transport that last worked with it; else uTP when a PEX source
 *   said it speaks uTP; else the configured order.
 * - The memory is bounded (oldest entries go first) and keyed by `host:port`.
 *
 * @example
 * ```ts
 * const memory = makeTransportMemory()
 * const dial = transportDialer({ dialers: { utp, tcp }, order: ["utp", "tcp"], memory, fallbackAfter: "1 second" })
 * ```
 */
import { Deferred, type Duration, Effect, Exit, Scope } from "effect"
import { type Address, formatAddress } from "../net/index.ts"
import type { PeerDialer } from "./dialer.ts"
import { PeerError } from "./errors.ts"

export type Transport = "utp" | "tcp"

export const TRANSPORTS: ReadonlyArray<Transport> = ["utp", "tcp"]

/** "utp,tcp" → ["utp", "tcp"]: each of "utp" and "tcp" at most once; undefined otherwise. */
export const parseTransports = (text: string): ReadonlyArray<Transport> | undefined => {
  const parts = text.split(",").map((p) => p.trim().toLowerCase())
  const valid = parts.filter((p): p is Transport => p === "utp" || p === "tcp")
  return parts.length > 0 && valid.length === parts.length && new Set(valid).size === valid.length ? valid : undefined
}

export interface TransportMemory {
  /** The transport that last connected with this peer, if any. */
  readonly worked: (address: Address) => Transport | undefined
  readonly record: (address: Address, transport: Transport) => void
  /** A peer source said the peer speaks uTP (PEX flag 0x04). */
  readonly hintUtp: (address: Address) => void
  /** Whether we know or were told the peer speaks uTP (what our PEX messages say). */
  readonly speaksUtp: (address: Address) => boolean
}

interface Known {
  worked: Transport | undefined
  hintedUtp: boolean
}

export const makeTransportMemory = (maxEntries = 10_000): TransportMemory => {
  const entries = new Map<string, Known>()
  const touch = (address: Address): Known => {
    const key = formatAddress(address)
    const known = entries.get(key) ?? { worked: undefined, hintedUtp: false }
    // Map iteration order is insertion order: re-inserting makes it the newest
    entries.delete(key)
    entries.set(key, known)
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next().value
      if (oldest !== undefined) entries.delete(oldest)
    }
    return known
  }
  return {
    worked: (address) => entries.get(formatAddress(address))?.worked,
    record: (address, transport) => {
      touch(address).worked = transport
    },
    hintUtp: (address) => {
      touch(address).hintedUtp = true
    },
    speaksUtp: (address) => {
      const known = entries.get(formatAddress(address))
      return known !== undefined && (known.worked === "utp" || (known.worked === undefined && known.hintedUtp))
    }
  }
}

/** The order to try transports in for one peer (pure). */
export const orderFor = (order: ReadonlyArray<Transport>, memory: TransportMemory, address: Address): ReadonlyArray<Transport> => {
  const preferred = memory.worked(address) ?? (memory.speaksUtp(address) ? "utp" : undefined)
  if (preferred === undefined || !order.includes(preferred)) return order
  return [preferred, ...order.filter((t) => t !== preferred)]
}

export interface TransportDialerOptions {
  readonly dialers: Partial<Record<Transport, PeerDialer>>
  /** Transports in order of preference; those without a dialer are skipped. */
  readonly order: ReadonlyArray<Transport>
  readonly memory: TransportMemory
  /**
   * How long the preferred transport has before the next one starts beside it: one
   * delay, or one per peer (a local peer answers in milliseconds, a distant one may not).
   */
  readonly fallbackAfter: Duration.Input | ((address: Address) => Duration.Input)
}

/** Dials one transport in a scope of its own: the loser of a race leaves nothing open. */
const attempt = (dial: PeerDialer, address: Address, infoHash: Uint8Array, parent: Scope.Scope) =>
  Effect.gen(function*() {
    const scope = yield* Scope.fork(parent)
    return yield* dial(address, infoHash).pipe(
      Scope.provide(scope),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit)))
    )
  })

export const transportDialer = (options: TransportDialerOptions): PeerDialer => (address, infoHash) =>
  Effect.gen(function*() {
    const parent = yield* Scope.Scope
    const fallbackAfter = typeof options.fallbackAfter === "function" ? options.fallbackAfter(address) : options.fallbackAfter
    const order = orderFor(options.order, options.memory, address).flatMap((t) => {
      const dial = options.dialers[t]
      return dial === undefined ? [] : [{ transport: t, dial }]
    })
    const tryFrom = (i: number): Effect.Effect<{ readonly transport: Transport; readonly conn: Effect.Success<ReturnType<PeerDialer>> }, PeerError> => {
      const current = order[i]
      if (current === undefined) {
        return Effect.fail(new PeerError({ reason: "Network", peer: formatAddress(address), detail: "no transport to dial with" }))
      }
      const first = attempt(current.dial, address, infoHash, parent).pipe(Effect.map((conn) => ({ transport: current.transport, conn })))
      if (i + 1 >= order.length) return first
      return Effect.gen(function*() {
        const failed = yield* Deferred.make<void>()
        const preferred = first.pipe(Effect.tapError(() => Deferred.succeed(failed, undefined)))
        const next = Effect.raceFirst(Effect.sleep(fallbackAfter), Deferred.await(failed)).pipe(
          Effect.andThen(tryFrom(i + 1))
        )
        return yield* Effect.race(preferred, next)
      })
    }
    const won = yield* tryFrom(0)
    options.memory.record(address, won.transport)
    return won.conn
  })
