/**
 * Simulated TCP: ordered, reliable byte streams between hosts of a `World`.
 *
 * - connect: the SYN crosses the link; a listener with room in its backlog accepts (the
 *   acceptor's end exists from then on), anything else answers with an RST
 *   (`ConnectRefused`); the SYN-ACK crosses back. A host that never answers (unknown,
 *   partitioned for too long) gives `ConnectTimeout`. An abandoned connect that gets its
 *   SYN-ACK late resets the acceptor's end, as a real stack would.
 * - write: the bytes take their slot on the sender's uplink and the receiver's downlink
 *   (see world.ts). Each connection has its own send buffer: `write` suspends (and
 *   `offer` returns false) while more than `sendBufferBytes` of this connection's bytes
 *   wait on the uplink, so a fast writer is held back by the link, not by memory, and
 *   connections sharing an uplink queue behind each other as TCP flows do.
 *   Delivery times of one direction never decrease, so bytes arrive in order.
 * - close: FIN after the last byte; reads on the other side drain, then fail
 *   `ConnectionClosed`. crash: this end fails `ConnectionReset` now, the other end after the
 *   link latency (an RST), dropping whatever it had not read.
 * - Bytes are handed over by reference, never copied: callers must not modify a buffer
 *   after writing it (the client never does).
 */
import { Duration, Effect } from "effect"
import type { Scope } from "effect"
import {
  type Address,
  AddressInUse,
  type Connection,
  ConnectionClosed,
  ConnectionReset,
  type ConnectOptions,
  ConnectRefused,
  ConnectTimeout,
  formatAddress,
  type Listener,
  makeInbox,
  type NetError,
  NetIoError
} from "../net/index.ts"
import { type Endpoint, makeEndpoint, type Resume } from "./endpoint.ts"
import type { HostState, World } from "./world.ts"

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000


/** Whether `host` (from a bind address) names this host: its address or a wildcard. */
export const bindsHere = (host: string, state: HostState): boolean =>
  host === state.address || host === "0.0.0.0" || host === "::" || host === ""

/**
 * The port a listen or a UDP bind of `address` gets on `host` (port 0: the next free
 * number), or why it cannot have it; `taken` holds the ports of that kind already bound.
 */
export const bindPort = (
  host: HostState,
  address: Address,
  op: "listen" | "bind",
  taken: ReadonlyMap<number, unknown>
): Effect.Effect<number, NetError> =>
  Effect.suspend((): Effect.Effect<number, NetError> => {
    const text = formatAddress(address)
    if (!host.alive) return Effect.fail(new NetIoError({ op, address: text, detail: "host is down" }))
    if (!bindsHere(address.host, host)) return Effect.fail(new NetIoError({ op, address: text, detail: "cannot assign requested address" }))
    const port = address.port === 0 ? host.nextPort++ : address.port
    return taken.has(port) ? Effect.fail(new AddressInUse({ address: text })) : Effect.succeed(port)
  })


interface ListenerState {
  readonly offer: (endpoint: Endpoint) => boolean
}

const listeners = new WeakMap<HostState, Map<number, ListenerState>>()

const listenerOf = (host: HostState, port: number): ListenerState | undefined => listeners.get(host)?.get(port)

export const connect = (world: World, host: HostState) =>
(address: Address, options?: ConnectOptions): Effect.Effect<Connection, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const text = formatAddress(address)
    if (!host.alive) return yield* new NetIoError({ op: "connect", address: text, detail: "host is down" })
    const timeoutMs = options?.timeout === undefined
      ? DEFAULT_CONNECT_TIMEOUT_MS
      : Duration.toMillis(options.timeout)
    const local: Address = { host: host.address, port: host.nextPort++ }
    const from = formatAddress(local)
    const target = world.host(address.host)
    world.trace("connect", { from, to: text })
    let settled = false
    let resume: Resume<Connection> | undefined
    let early: Effect.Effect<Connection, NetError> | undefined
    const settle = (result: Effect.Effect<Connection, NetError>) => {
      if (settled) return
      settled = true
      if (resume === undefined) early = result
      else resume(result)
    }
    const generation = host.generation
    if (target !== undefined) {
      const syn = () => {
        if (!world.reachable(host, target)) return world.hold(syn)
        const latency = world.latency(host, target)
        world.events.at(world.events.now() + latency, () => {
          const listener = target.alive ? listenerOf(target, address.port) : undefined
          const back = world.events.now() + world.latency(target, host)
          if (listener === undefined) {
            world.events.at(back, () => {
              if (!settled) world.trace("refused", { from, to: text })
              settle(Effect.fail(new ConnectRefused({ address: text })))
            })
            return
          }
          const ours = makeEndpoint(world, host, local, address)
          const theirs = makeEndpoint(world, target, address, local)
          ours.peer = theirs
          theirs.peer = ours
          if (!listener.offer(theirs)) {
            theirs.resetNow(new ConnectionReset({ address: from, detail: "backlog full" }))
            ours.resetNow(new ConnectionReset({ address: text, detail: "backlog full" }))
            world.events.at(back, () => settle(Effect.fail(new ConnectRefused({ address: text }))))
            return
          }
          world.events.at(back, () => {
            if (settled || !host.alive || host.generation !== generation) {
              ours.crash()
              return
            }
            world.trace("established", { from, to: text })
            settle(Effect.succeed(ours.connection))
          })
        })
      }
      syn()
    }
    const wait = Effect.callback<Connection, NetError>((r) => {
      if (early !== undefined) return r(early)
      resume = r
      return Effect.sync(() => { settled = true })
    })
    const conn = yield* wait.pipe(
      Effect.timeoutOrElse({
        duration: Duration.millis(timeoutMs),
        orElse: () =>
          Effect.suspend(() => {
            world.trace("timeout", { from, to: text })
            return Effect.fail(new ConnectTimeout({ address: text, timeoutMillis: timeoutMs }))
          })
      })
    )
    yield* Effect.addFinalizer(() => conn.close)
    return conn
  })

export const listen = (world: World, host: HostState) =>
(address: Address): Effect.Effect<Listener, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* bindPort(host, address, "listen", host.listeners)
    const bound: Address = { host: host.address, port }
    const boundText = formatAddress(bound)
    // the accept queue: a full backlog refuses the connection
    const backlog = makeInbox<Endpoint, NetError>(world.options.backlog)
    const state: ListenerState = { offer: backlog.offer }
    const shut = (error: NetError) => {
      host.listeners.delete(port)
      listeners.get(host)?.delete(port)
      backlog.end(error)
      for (const e of backlog.drain()) e.crash()
    }
    let byHost = listeners.get(host)
    if (byHost === undefined) {
      byHost = new Map()
      listeners.set(host, byHost)
    }
    byHost.set(port, state)
    host.listeners.set(port, { crash: () => shut(new NetIoError({ op: "accept", address: boundText, detail: "host crashed" })) })
    world.trace("listen", { at: boundText })
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      if (backlog.ended() === undefined) shut(new ConnectionClosed({ address: boundText }))
    }))
    const accept = Effect.gen(function*() {
      const endpoint = yield* backlog.take
      yield* Effect.addFinalizer(() => endpoint.connection.close)
      return endpoint.connection
    })
    const listener: Listener = { address: bound, accept }
    return listener
  })
