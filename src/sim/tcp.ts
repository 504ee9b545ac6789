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
  type NetError,
  NetIoError
} from "../net/index.ts"
import type { CrashableEndpoint, HostState, World } from "./world.ts"

type Resume<A> = (effect: Effect.Effect<A, NetError>) => void

interface Endpoint extends CrashableEndpoint {
  readonly connection: Connection
  /** Called by the other end's events. */
  readonly deliver: (chunks: ReadonlyArray<Uint8Array>) => void
  /** The other end closed (a FIN): reads drain what arrived, then fail `ConnectionClosed`. */
  readonly deliverFin: () => void
  readonly resetNow: (error: NetError) => void
  peer: Endpoint | undefined
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** Runs of written buffers smaller than this are delivered as one copy (see `segmentOf`). */
const SMALL_CHUNK = 4096

/**
 * What the receiver's reads return for one write: large buffers by reference (a 16 KiB
 * block is never copied), and each run of small ones copied into one off-heap Buffer, as a
 * socket read would return them. Why copy at all: V8 keeps typed arrays of up to 64 bytes
 * on the JS heap, and the framer's first `subarray` of one moves it off-heap (~1-14 µs
 * each, measured; `have` messages are the bulk of all frames in a swarm), and many tiny
 * chunks cost the framer per chunk.
 */
const segmentOf = (chunks: ReadonlyArray<Uint8Array>, size: number): ReadonlyArray<Uint8Array> => {
  if (chunks.length === 1) return size >= SMALL_CHUNK || chunks[0] instanceof Buffer ? chunks : [Buffer.concat(chunks, size)]
  const out: Array<Uint8Array> = []
  let run: Array<Uint8Array> = []
  let runBytes = 0
  const flush = () => {
    if (run.length > 0) out.push(Buffer.concat(run, runBytes))
    run = []
    runBytes = 0
  }
  for (const chunk of chunks) {
    if (chunk.length >= SMALL_CHUNK) {
      flush()
      out.push(chunk)
    } else {
      run.push(chunk)
      runBytes += chunk.length
    }
  }
  flush()
  return out
}

/** Whether `host` (from a bind address) names this host: its address or a wildcard. */
export const bindsHere = (host: string, state: HostState): boolean =>
  host === state.address || host === "0.0.0.0" || host === "::" || host === ""

const makeEndpoint = (world: World, host: HostState, local: Address, remote: Address): Endpoint => {
  const inbox: Array<Uint8Array> = []
  let head = 0
  let terminal: NetError | undefined
  let waiter: Resume<Uint8Array> | undefined
  let closed = false
  let lastDelivery = 0
  const generation = host.generation
  const remoteText = formatAddress(remote)
  // One error object per connection and reason: a normal close happens on every connection,
  // and each error captures a stack trace (several µs; thousands of closes in a big swarm).
  let closedError: ConnectionClosed | undefined
  const closedErrorOnce = () => (closedError ??= new ConnectionClosed({ address: remoteText }))
  // Host objects live as long as the world (a restart reuses the same one).
  const to = world.host(remote.host)

  const take = (): Uint8Array | undefined => {
    if (head >= inbox.length) return undefined
    const chunk = inbox[head]
    inbox[head++] = EMPTY
    if (head === inbox.length) {
      inbox.length = 0
      head = 0
    }
    return chunk
  }

  let consumer: ((chunk: Uint8Array) => boolean) | undefined
  let onEnd: ((error: NetError) => void) | undefined
  let armed = 0
  const pushAll = () => {
    while (consumer !== undefined) {
      const chunk = take()
      if (chunk === undefined) break
      const token = ++armed
      // the consumer may stop, and may re-arm (`readable`) before it returns
      if (!consumer(chunk) && armed === token) consumer = undefined
    }
    if (consumer !== undefined && terminal !== undefined) {
      const end = onEnd
      consumer = undefined
      onEnd = undefined
      end?.(terminal)
    }
  }
  const readable = (c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void) => {
    if (closed) return e(closedErrorOnce())
    consumer = c
    onEnd = e
    armed++
    pushAll()
  }
  const wake = () => {
    if (consumer !== undefined) return pushAll()
    const w = waiter
    if (w === undefined) return
    const chunk = take()
    if (chunk !== undefined) {
      waiter = undefined
      w(Effect.succeed(chunk))
    } else if (terminal !== undefined) {
      waiter = undefined
      w(Effect.fail(terminal))
    }
  }

  const dead = (): NetError | undefined => {
    if (closed) return closedErrorOnce()
    if (terminal instanceof ConnectionReset) return terminal
    if (!host.alive || host.generation !== generation) {
      return new ConnectionReset({ address: remoteText, detail: "host is down" })
    }
    return undefined
  }

  /** Sends to the other end at its delivery slot; waits out partitions. Returns the departure time. */
  const transmit = (size: number, onArrival: (peer: Endpoint) => void): number => {
    const peer = endpoint.peer
    if (peer === undefined || to === undefined) return world.events.now()
    let departed = world.events.now()
    const go = () => {
      if (!world.reachable(host, to)) {
        world.hold(go)
        return
      }
      departed = world.transmit(host, to, size, (done) => {
        // arrivals of one direction are in order; keep deliveries in order too
        const at = Math.max(done, lastDelivery)
        lastDelivery = at
        world.events.at(at, () => {
          if (size > 0) world.countBytes(host, to, size)
          onArrival(peer)
        })
      })
    }
    go()
    return departed
  }

  // The send buffer: this connection's bytes not yet on the wire, as (departure time, bytes)
  // pairs, oldest first. A writer waits while more than `sendBufferBytes` of its own bytes
  // are queued on the uplink, like a TCP socket whose buffer is full.
  const unsent: Array<number> = []
  let unsentHead = 0
  let unsentBytes = 0
  const departUntil = (t: number) => {
    while (unsentHead < unsent.length && (unsent[unsentHead] ?? Infinity) <= t) {
      unsentBytes -= unsent[unsentHead + 1] ?? 0
      unsentHead += 2
    }
    if (unsentHead === unsent.length) {
      unsent.length = 0
      unsentHead = 0
    }
  }
  /** When enough of the queued bytes have left for the rest to fit the send buffer. */
  const roomAt = (): number => {
    let bytes = unsentBytes
    let i = unsentHead
    while (bytes > world.options.sendBufferBytes && i < unsent.length) {
      bytes -= unsent[i + 1] ?? 0
      i += 2
    }
    return unsent[i - 2] ?? 0
  }

  const offer = (chunks: ReadonlyArray<Uint8Array>): boolean => {
    if (dead() !== undefined) return false
    let size = 0
    for (const c of chunks) size += c.length
    if (size === 0) return true
    const segment = segmentOf(chunks, size)
    const departed = transmit(size, (peer) => peer.deliver(segment))
    const t = world.events.now()
    departUntil(t)
    if (departed > t) {
      unsent.push(departed, size)
      unsentBytes += size
    }
    return unsentBytes <= world.options.sendBufferBytes
  }

  const drained: Effect.Effect<void, NetError> = Effect.suspend(() => {
    const error = dead()
    if (error !== undefined) return Effect.fail(error)
    departUntil(world.events.now())
    const wait = unsentBytes <= world.options.sendBufferBytes ? 0 : roomAt() - world.events.now()
    return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
  })

  const send = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> =>
    Effect.suspend(() => (offer(chunks) ? Effect.void : drained))

  const detach = () => {
    closed = true
    host.connections.delete(endpoint)
    inbox.length = 0
    head = 0
  }

  const close = Effect.sync(() => {
    if (closed) return
    const wasReset = terminal instanceof ConnectionReset
    detach()
    const w = waiter
    waiter = undefined
    w?.(Effect.fail(closedErrorOnce()))
    if (wasReset) return
    world.trace("close", { from: formatAddress(local), to: remoteText })
    transmit(0, (peer) => peer.deliverFin())
  })

  const read: Effect.Effect<Uint8Array, NetError> = Effect.callback<Uint8Array, NetError>((resume) => {
    const chunk = take()
    if (chunk !== undefined) return resume(Effect.succeed(chunk))
    if (closed) return resume(Effect.fail(closedErrorOnce()))
    if (terminal !== undefined) return resume(Effect.fail(terminal))
    waiter = resume
    return Effect.sync(() => {
      if (waiter === resume) waiter = undefined
    })
  })

  const endpoint: Endpoint = {
    peer: undefined,
    connection: {
      remote,
      local,
      read,
      write: (bytes) => send([bytes]),
      writeV: send,
      offer,
      drained,
      close,
      readable
    },
    deliver: (chunks) => {
      if (closed || terminal !== undefined) return
      for (const c of chunks) if (c.length > 0) inbox.push(c)
      wake()
    },
    deliverFin: () => {
      if (closed || terminal !== undefined) return
      terminal = closedErrorOnce()
      wake()
    },
    resetNow: (error) => {
      if (closed) return
      inbox.length = 0
      head = 0
      terminal = error
      host.connections.delete(endpoint)
      wake()
    },
    crash: () => {
      if (closed) return
      endpoint.resetNow(new ConnectionReset({ address: remoteText, detail: "host crashed" }))
      closed = true
      const peer = endpoint.peer
      // A crashing stack sends one RST and never retransmits it: lost across a partition.
      if (peer !== undefined && to !== undefined && world.reachable(host, to)) {
        world.events.at(world.events.now() + world.latency(host, to), () =>
          peer.resetNow(new ConnectionReset({ address: formatAddress(local), detail: "reset by peer" })))
      }
    }
  }
  host.connections.add(endpoint)
  return endpoint
}

const EMPTY = new Uint8Array(0)

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
      : Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
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
    const text = formatAddress(address)
    if (!host.alive) return yield* new NetIoError({ op: "listen", address: text, detail: "host is down" })
    if (!bindsHere(address.host, host)) {
      return yield* new NetIoError({ op: "listen", address: text, detail: "cannot assign requested address" })
    }
    const port = address.port === 0 ? host.nextPort++ : address.port
    if (host.listeners.has(port)) return yield* new AddressInUse({ address: text })
    const bound: Address = { host: host.address, port }
    const boundText = formatAddress(bound)
    const queue: Array<Endpoint> = []
    let waiter: Resume<Endpoint> | undefined
    let gone: NetError | undefined
    const state: ListenerState = {
      offer: (endpoint) => {
        if (gone !== undefined || queue.length >= world.options.backlog) return false
        const w = waiter
        if (w !== undefined) {
          waiter = undefined
          w(Effect.succeed(endpoint))
        } else {
          queue.push(endpoint)
        }
        return true
      }
    }
    const shut = (error: NetError) => {
      gone = error
      host.listeners.delete(port)
      listeners.get(host)?.delete(port)
      for (const e of queue.splice(0)) e.crash()
      const w = waiter
      waiter = undefined
      w?.(Effect.fail(error))
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
      if (gone === undefined) shut(new ConnectionClosed({ address: boundText }))
    }))
    const acceptOne = Effect.callback<Endpoint, NetError>((resume) => {
      const next = queue.shift()
      if (next !== undefined) return resume(Effect.succeed(next))
      if (gone !== undefined) return resume(Effect.fail(gone))
      waiter = resume
      return Effect.sync(() => {
        if (waiter === resume) waiter = undefined
      })
    })
    const accept = Effect.gen(function*() {
      const endpoint = yield* acceptOne
      yield* Effect.addFinalizer(() => endpoint.connection.close)
      return endpoint.connection
    })
    const listener: Listener = { address: bound, accept }
    return listener
  })
