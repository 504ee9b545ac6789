/**
 * Simulated UDP: a datagram takes its turn on the sender's uplink and the receiver's
 * downlink like TCP bytes do (see world.ts; 28 bytes of IP and UDP header on top), so uTP
 * and TCP share a bottleneck's queue and its delay, then arrives subject to the world's
 * loss, duplication and reordering (extra random delay), and is lost across partitions,
 * to crashed hosts and to ports nobody bound. A socket's receive buffer is bounded; beyond
 * it datagrams are dropped, as a real kernel would. Payload bytes count in the world's
 * traffic figures, as TCP's do.
 *
 * Multicast: the world is one link. A socket bound with `multicast` joins its group; a
 * datagram sent to `group:port` goes to every member bound to that port (the sender's own
 * socket too when `loopback`, as on a real host), each copy over the links as above; the
 * trace has a `multicast` line per datagram sent.
 * `reuseAddress` changes nothing: a simulated host runs one client.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import {
  type Address,
  ConnectionClosed,
  type Datagram,
  formatAddress,
  makeDatagramInbox,
  type NetError,
  NetIoError,
  type UdpOptions,
  type UdpSocket
} from "../net/index.ts"
import { bindPort } from "./tcp.ts"
import type { HostState, World } from "./world.ts"

interface UdpState {
  readonly deliver: (datagram: Datagram) => void
}

/** IPv4 (20) and UDP (8) headers: what a datagram costs on a link beyond its payload. */
const UDP_IP_HEADER_BYTES = 28

const sockets = new WeakMap<HostState, Map<number, UdpState>>()

interface Member {
  readonly host: HostState
  readonly port: number
  readonly state: UdpState
}

/** Multicast members of each world, by `group|port`. */
const groups = new WeakMap<World, Map<string, Set<Member>>>()

const isMulticast = (host: string): boolean => /^2(2[4-9]|3\d)\./.test(host) || /^ff/i.test(host)

export const udp = (world: World, host: HostState) =>
(bind: Address, options: UdpOptions = {}): Effect.Effect<UdpSocket, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* bindPort(host, bind, "bind", host.udp)
    const local: Address = { host: host.address, port }
    const localText = formatAddress(local)
    // the end of a burst: after everything due in this millisecond
    const inbox = makeDatagramInbox(world.options.udpReceiveBuffer, (run) => world.events.at(world.events.now(), run))
    let gone: NetError | undefined
    const state: UdpState = { deliver: (datagram) => inbox.deliver(datagram.payload, datagram.from) }
    let member: Member | undefined
    const memberships = groups.get(world) ?? new Map<string, Set<Member>>()
    groups.set(world, memberships)
    const shut = (error: NetError) => {
      gone = error
      if (member !== undefined && options.multicast !== undefined) memberships.get(`${options.multicast.group}|${port}`)?.delete(member)
      host.udp.delete(port)
      sockets.get(host)?.delete(port)
      inbox.clear()
      inbox.end(error)
    }
    let byHost = sockets.get(host)
    if (byHost === undefined) {
      byHost = new Map()
      sockets.set(host, byHost)
    }
    byHost.set(port, state)
    if (options.multicast !== undefined) {
      const key = `${options.multicast.group}|${port}`
      const set = memberships.get(key) ?? new Set<Member>()
      memberships.set(key, set)
      member = { host, port, state }
      set.add(member)
    }
    host.udp.set(port, { crash: () => shut(new NetIoError({ op: "receive", address: localText, detail: "host crashed" })) })
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      if (gone === undefined) shut(new ConnectionClosed({ address: localText }))
    }))

    const generation = host.generation
    const loopback = options.multicast?.loopback ?? true
    /** One datagram over the links to `target`, subject to loss, duplication and reordering; `receiver` is looked up on arrival. */
    const transmitTo = (payload: Uint8Array, target: HostState, to: Address, receiver: () => UdpState | undefined): void => {
      const { loss, duplicate, reorderMs } = world.options.udp
      if (loss > 0 && world.random() < loss) {
        world.trace("udp-lost", { from: localText, to: formatAddress(to) })
        return
      }
      const copies = duplicate > 0 && world.random() < duplicate ? 2 : 1
      // a private copy: the sender may reuse its buffer once send returns
      const bytes = payload.slice()
      for (let i = 0; i < copies; i++) {
        const jitter = reorderMs > 0 ? world.random() * reorderMs : 0
        world.transmit(host, target, bytes.length + UDP_IP_HEADER_BYTES, (done) => {
          world.events.at(done + jitter, () => {
            if (!target.alive || !world.reachable(host, target)) return
            const socket = receiver()
            if (socket === undefined) return
            world.countBytes(host, target, bytes.length)
            socket.deliver({ payload: bytes, from: local })
          })
        })
      }
    }
    /** Sends one datagram; undefined when it left (or was lost on the way), else why not. */
    const transmit = (payload: Uint8Array, to: Address): NetError | undefined => {
      if (gone !== undefined || !host.alive || host.generation !== generation) return gone ?? new ConnectionClosed({ address: localText })
      if (isMulticast(to.host)) {
        // one line per datagram sent to a group (LSD announces), however many members hear it
        world.trace("multicast", { from: localText, to: formatAddress(to), bytes: payload.length })
        for (const m of memberships.get(`${to.host}|${to.port}`) ?? []) {
          if (m.host === host) {
            // multicast loopback: this host's own members hear it at once, off the links
            const bytes = payload.slice()
            if (loopback) world.events.at(world.events.now(), () => m.state.deliver({ payload: bytes, from: local }))
            continue
          }
          transmitTo(payload, m.host, to, () => m.state)
        }
        return undefined
      }
      const target = world.host(to.host)
      if (target === undefined || !world.reachable(host, target)) return undefined
      transmitTo(payload, target, to, () => sockets.get(target)?.get(to.port))
      return undefined
    }
    const send = (payload: Uint8Array, to: Address): Effect.Effect<void, NetError> =>
      Effect.suspend(() => {
        const error = transmit(payload, to)
        return error === undefined ? Effect.void : Effect.fail(error)
      })
    const sendNow = (payload: Uint8Array, to: Address): boolean => transmit(payload, to) === undefined

    const socket: UdpSocket = { address: local, send, receive: inbox.receive, subscribe: inbox.subscribe, sendNow }
    return socket
  })
