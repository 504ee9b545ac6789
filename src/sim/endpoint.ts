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
  count(size: number): void
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

const noCount = (): void => {}

/**
 * An endpoint is its own `Connection` and its own sending `Direction`. A class, not
 * closures: a simulated swarm holds two endpoints per connection, and their twenty-odd
 * closures, contexts and effects were ~1.6 KB of every session (issue 18). `read`,
 * `drained` and `close` are made when asked for. Call its methods on it, never detached
 * (`whenDrained` and the slot's `takeChunk` are the functions it hands out).
 */
class SimEndpoint implements Endpoint, Connection, Direction {
  peer: Endpoint | undefined = undefined
  readonly remote: Address
  readonly local: Address
  lastDelivery = 0
  private readonly world: World
  private readonly host: HostState
  private readonly generation: number
  private readonly remoteText: string
  // Host objects live as long as the world (a restart reuses the same one).
  private readonly to: HostState | undefined
  private readonly counter: (size: number) => void
  private inbox: Array<Uint8Array> = []
  private head = 0
  private terminal: NetError | undefined = undefined
  private waiter: Resume<Uint8Array> | undefined = undefined
  private closed = false
  // One error object per connection and reason: a normal close happens on every connection,
  // and each error captures a stack trace (several µs; thousands of closes in a big swarm).
  private closedError: ConnectionClosed | undefined = undefined
  private readonly slot = makeReadableSlot()
  private readonly takeChunk = (): Uint8Array | undefined => this.take()
  // The send buffer: this connection's bytes not yet on the wire, as (departure time, bytes)
  // pairs, oldest first. A writer waits while more than `sendBufferBytes` of its own bytes
  // are queued on the uplink, like a TCP socket whose buffer is full.
  private unsent: Array<number> = []
  private unsentHead = 0
  private unsentBytes = 0

  constructor(world: World, host: HostState, local: Address, remote: Address) {
    this.world = world
    this.host = host
    this.local = local
    this.remote = remote
    this.generation = host.generation
    this.remoteText = formatAddress(remote)
    this.to = world.host(remote.host)
    this.counter = this.to === undefined ? noCount : world.pairCounter(host, this.to)
  }

  get connection(): Connection {
    return this
  }

  count(size: number): void {
    this.counter(size)
  }

  private closedErrorOnce(): ConnectionClosed {
    return (this.closedError ??= new ConnectionClosed({ address: this.remoteText }))
  }

  private take(): Uint8Array | undefined {
    const inbox = this.inbox
    if (this.head >= inbox.length) return undefined
    const chunk = inbox[this.head]
    inbox[this.head++] = EMPTY
    if (this.head === inbox.length) {
      inbox.length = 0
      this.head = 0
    }
    return chunk
  }

  private pushAll(): void {
    this.slot.deliver(this.takeChunk)
    if (this.terminal !== undefined) this.slot.end(this.terminal)
  }

  readable(c: (chunk: Uint8Array) => boolean, e: (error: NetError) => void): void {
    if (this.closed) return e(this.closedErrorOnce())
    this.slot.arm(c, e)
    this.pushAll()
  }

  private wake(): void {
    if (this.slot.armed()) return this.pushAll()
    const w = this.waiter
    if (w === undefined) return
    const chunk = this.take()
    if (chunk !== undefined) {
      this.waiter = undefined
      w(Effect.succeed(chunk))
    } else if (this.terminal !== undefined) {
      this.waiter = undefined
      w(Effect.fail(this.terminal))
    }
  }

  private dead(): NetError | undefined {
    if (this.closed) return this.closedErrorOnce()
    if (this.terminal instanceof ConnectionReset) return this.terminal
    if (!this.host.alive || this.host.generation !== this.generation) {
      return new ConnectionReset({ address: this.remoteText, detail: "host is down" })
    }
    return undefined
  }

  /** Sends to the other end at its delivery slot; waits out partitions. Returns the departure time. */
  private transmit(size: number, segment: ReadonlyArray<Uint8Array> | undefined): number {
    const peer = this.peer
    if (peer === undefined || this.to === undefined) return this.world.events.now()
    return this.depart(new InFlight(this.world, this.host, this.to, this, peer, size, segment))
  }

  private depart(inFlight: InFlight): number {
    const { world, host, to } = this
    if (to === undefined) return world.events.now()
    if (!world.reachable(host, to)) {
      world.hold(() => {
        this.depart(inFlight)
      })
      return world.events.now()
    }
    const departed = world.uplink(host, to, inFlight.size)
    world.events.at(departed + world.latency(host, to), inFlight)
    return departed
  }

  private departUntil(t: number): void {
    const unsent = this.unsent
    while (this.unsentHead < unsent.length && (unsent[this.unsentHead] ?? Infinity) <= t) {
      this.unsentBytes -= unsent[this.unsentHead + 1] ?? 0
      this.unsentHead += 2
    }
    if (this.unsentHead === unsent.length) {
      unsent.length = 0
      this.unsentHead = 0
    }
  }

  /** When enough of the queued bytes have left for the rest to fit the send buffer. */
  private roomAt(): number {
    const unsent = this.unsent
    let bytes = this.unsentBytes
    let i = this.unsentHead
    while (bytes > this.world.options.sendBufferBytes && i < unsent.length) {
      bytes -= unsent[i + 1] ?? 0
      i += 2
    }
    return unsent[i - 2] ?? 0
  }

  offer(chunks: ReadonlyArray<Uint8Array>): boolean {
    if (this.dead() !== undefined) return false
    let size = 0
    for (const c of chunks) size += c.length
    if (size === 0) return true
    const segment = segmentOf(chunks, size)
    const departed = this.transmit(size, segment)
    const t = this.world.events.now()
    this.departUntil(t)
    if (departed > t) {
      this.unsent.push(departed, size)
      this.unsentBytes += size
    }
    return this.unsentBytes <= this.world.options.sendBufferBytes
  }

  /** How long a writer waits for room in the send buffer (0: none). */
  private drainWait(): number {
    this.departUntil(this.world.events.now())
    return this.unsentBytes <= this.world.options.sendBufferBytes ? 0 : this.roomAt() - this.world.events.now()
  }

  get drained(): Effect.Effect<void, NetError> {
    return Effect.suspend(() => {
      const error = this.dead()
      if (error !== undefined) return Effect.fail(error)
      const wait = this.drainWait()
      return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
    })
  }

  // `drained` without a fiber: the same check, and a timer where `drained` would sleep
  // (registered at the same point, for the same time: the same order of events). A
  // function of its own: callers take it off the connection (`Served` copies it).
  readonly whenDrained = (wake: () => void): NetError | (() => void) | undefined => this.drainedNow(wake)

  private drainedNow(wake: () => void): NetError | (() => void) | undefined {
    const error = this.dead()
    if (error !== undefined) return error
    const wait = this.drainWait()
    if (!(wait > 0)) return undefined
    // what the sleep of `drained` waits: a fraction of a millisecond in whole nanoseconds
    const millis = Duration.toMillis(Duration.millis(wait))
    return millis > 0 ? this.world.events.timer(this.world.events.now() + millis, wake) : undefined
  }

  writeV(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> {
    return Effect.suspend(() => (this.offer(chunks) ? Effect.void : this.drained))
  }

  write(bytes: Uint8Array): Effect.Effect<void, NetError> {
    return this.writeV([bytes])
  }

  private detach(): void {
    this.closed = true
    this.host.connections.delete(this)
    this.inbox.length = 0
    this.head = 0
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => {
      if (this.closed) return
      const wasReset = this.terminal instanceof ConnectionReset
      this.detach()
      const w = this.waiter
      this.waiter = undefined
      w?.(Effect.fail(this.closedErrorOnce()))
      if (wasReset) return
      this.world.trace("close", { from: formatAddress(this.local), to: this.remoteText })
      this.transmit(0, undefined)
    })
  }

  get read(): Effect.Effect<Uint8Array, NetError> {
    return Effect.callback<Uint8Array, NetError>((resume) => {
      const chunk = this.take()
      if (chunk !== undefined) return resume(Effect.succeed(chunk))
      if (this.closed) return resume(Effect.fail(this.closedErrorOnce()))
      if (this.terminal !== undefined) return resume(Effect.fail(this.terminal))
      this.waiter = resume
      return Effect.sync(() => {
        if (this.waiter === resume) this.waiter = undefined
      })
    })
  }

  deliver(chunks: ReadonlyArray<Uint8Array>): void {
    if (this.closed || this.terminal !== undefined) return
    for (const c of chunks) if (c.length > 0) this.inbox.push(c)
    this.wake()
  }

  deliverFin(): void {
    if (this.closed || this.terminal !== undefined) return
    this.terminal = this.closedErrorOnce()
    this.wake()
  }

  resetNow(error: NetError): void {
    if (this.closed) return
    this.inbox.length = 0
    this.head = 0
    this.terminal = error
    this.host.connections.delete(this)
    this.wake()
  }

  crash(): void {
    if (this.closed) return
    this.resetNow(new ConnectionReset({ address: this.remoteText, detail: "host crashed" }))
    this.closed = true
    const { peer, world, host, to, local } = this
    // A crashing stack sends one RST and never retransmits it: lost across a partition.
    if (peer !== undefined && to !== undefined && world.reachable(host, to)) {
      world.events.at(world.events.now() + world.latency(host, to), () =>
        peer.resetNow(new ConnectionReset({ address: formatAddress(local), detail: "reset by peer" })))
    }
  }
}

export const makeEndpoint = (world: World, host: HostState, local: Address, remote: Address): Endpoint => {
  const endpoint = new SimEndpoint(world, host, local, remote)
  host.connections.add(endpoint)
  return endpoint
}

const EMPTY = new Uint8Array(0)
