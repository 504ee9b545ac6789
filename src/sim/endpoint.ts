/**
 * One end of a simulated TCP connection (tcp.ts makes them in pairs): its inbox and the
 * reads over it (`read`, and `readable` pushing chunks to a synchronous consumer), its
 * send buffer (`offer`, `drained`, `write`), close (a FIN after the last byte) and crash
 * (an RST). The semantics are listed in tcp.ts.
 */
import { Duration, Effect } from "effect"
import {
  type Address,
  type Connection,
  ConnectionClosed,
  ConnectionReset,
  formatAddress,
  makeReadableSlot,
  type NetError
} from "../net/index.ts"
import type { CrashableEndpoint, HostState, World } from "./world.ts"

export type Resume<A> = (effect: Effect.Effect<A, NetError>) => void

export interface Endpoint extends CrashableEndpoint {
  readonly connection: Connection
  /** Called by the other end's events. */
  readonly deliver: (chunks: ReadonlyArray<Uint8Array>) => void
  /** The other end closed (a FIN): reads drain what arrived, then fail `ConnectionClosed`. */
  readonly deliverFin: () => void
  readonly resetNow: (error: NetError) => void
  peer: Endpoint | undefined
}


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

/** One direction of a connection: its deliveries happen in the order its writes arrive. */
interface Direction {
  lastDelivery: number
  /** `World.countBytes` for this direction's pair of hosts. */
  readonly count: (size: number) => void
}

/**
 * One write on its way (`segment`, or a FIN when undefined): a plain record that the event
 * queue runs twice, when its last byte reaches the receiver's downlink (it takes its slot
 * there) and when it is through it (delivered). No closures per write.
 */
class InFlight {
  private arrived = false
  private readonly world: World
  private readonly from: HostState
  private readonly to: HostState
  private readonly direction: Direction
  private readonly peer: Endpoint
  readonly size: number
  private readonly segment: ReadonlyArray<Uint8Array> | undefined
  constructor(
    world: World,
    from: HostState,
    to: HostState,
    direction: Direction,
    peer: Endpoint,
    size: number,
    segment: ReadonlyArray<Uint8Array> | undefined
  ) {
    this.world = world
    this.from = from
    this.to = to
    this.direction = direction
    this.peer = peer
    this.size = size
    this.segment = segment
  }

  run(): void {
    const world = this.world
    if (!this.arrived) {
      this.arrived = true
      // arrivals of one direction are in order; keep deliveries in order too
      const at = Math.max(world.downlink(this.from, this.to, this.size), this.direction.lastDelivery)
      this.direction.lastDelivery = at
      world.events.at(at, this)
      return
    }
    if (this.size > 0) this.direction.count(this.size)
    if (this.segment === undefined) this.peer.deliverFin()
    else this.peer.deliver(this.segment)
  }
}

export const makeEndpoint = (world: World, host: HostState, local: Address, remote: Address): Endpoint => {
  const inbox: Array<Uint8Array> = []
  let head = 0
  let terminal: NetError | undefined
  let waiter: Resume<Uint8Array> | undefined
  let closed = false
  const generation = host.generation
  const remoteText = formatAddress(remote)
  // One error object per connection and reason: a normal close happens on every connection,
  // and each error captures a stack trace (several µs; thousands of closes in a big swarm).
  let closedError: ConnectionClosed | undefined
  const closedErrorOnce = () => (closedError ??= new ConnectionClosed({ address: remoteText }))
  // Host objects live as long as the world (a restart reuses the same one).
  const to = world.host(remote.host)
  const direction: Direction = { lastDelivery: 0, count: to === undefined ? () => {} : world.pairCounter(host, to) }

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

  const slot = makeReadableSlot()
  const pushAll = () => {
    slot.deliver(take)
    if (terminal !== undefined) slot.end(terminal)
  }
  const readable = (c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void) => {
    if (closed) return e(closedErrorOnce())
    slot.arm(c, e)
    pushAll()
  }
  const wake = () => {
    if (slot.armed()) return pushAll()
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
  const transmit = (size: number, segment: ReadonlyArray<Uint8Array> | undefined): number => {
    const peer = endpoint.peer
    if (peer === undefined || to === undefined) return world.events.now()
    return depart(new InFlight(world, host, to, direction, peer, size, segment))
  }
  const depart = (inFlight: InFlight): number => {
    if (to === undefined) return world.events.now()
    if (!world.reachable(host, to)) {
      world.hold(() => {
        depart(inFlight)
      })
      return world.events.now()
    }
    const departed = world.uplink(host, to, inFlight.size)
    world.events.at(departed + world.latency(host, to), inFlight)
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
    const departed = transmit(size, segment)
    const t = world.events.now()
    departUntil(t)
    if (departed > t) {
      unsent.push(departed, size)
      unsentBytes += size
    }
    return unsentBytes <= world.options.sendBufferBytes
  }

  /** How long a writer waits for room in the send buffer (0: none). */
  const drainWait = (): number => {
    departUntil(world.events.now())
    return unsentBytes <= world.options.sendBufferBytes ? 0 : roomAt() - world.events.now()
  }

  const drained: Effect.Effect<void, NetError> = Effect.suspend(() => {
    const error = dead()
    if (error !== undefined) return Effect.fail(error)
    const wait = drainWait()
    return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
  })

  // `drained` without a fiber: the same check, and a timer where `drained` would sleep
  // (registered at the same point, for the same time: the same order of events).
  const whenDrained = (wake: () => void): NetError | (() => void) | undefined => {
    const error = dead()
    if (error !== undefined) return error
    const wait = drainWait()
    if (!(wait > 0)) return undefined
    // what the sleep of `drained` waits: a fraction of a millisecond in whole nanoseconds
    const millis = Duration.toMillis(Duration.millis(wait))
    return millis > 0 ? world.events.timer(world.events.now() + millis, wake) : undefined
  }

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
    transmit(0, undefined)
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
      whenDrained,
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
