/**
 * UDP on node:dgram. Used directly rather than through @effect/platform-node's
 * `NodeDatagramSocket`, whose queue-and-pull reads cost a fiber hand-off per datagram and
 * whose writes wait for each send's callback: uTP moves tens of thousands of datagrams a
 * second, each of which must be handled (and acknowledged) synchronously.
 */
import { Effect, type Scope } from "effect"
import * as Dgram from "node:dgram"
import * as Dns from "node:dns"
import * as Net from "node:net"
import { AddressInUse, ConnectionClosed, type NetError, NetIoError } from "./errors.ts"
import { describeCause, errnoOf } from "../errno.ts"
import { ANY_HOST, ANY_IPV4, formatAddress, NO_IPV6_ERRNOS, unmapIpv4 } from "./address.ts"
import { makeDatagramInbox } from "./inbox.ts"
import type { Address, UdpOptions, UdpSocket } from "./Network.ts"

/** Datagrams kept for `receive` before new ones are dropped. */
const RECEIVE_BUFFER = 1024
/** Kernel buffers asked for (Linux caps them at net.core.rmem_max / wmem_max). */
const KERNEL_BUFFER_BYTES = 4 * 1024 * 1024

/**
 * The families a socket can send to: an IPv4 socket IPv4, one bound to a particular IPv6
 * address IPv6, and the dual-stack `::` one both (IPv4 through mapped addresses).
 */
type Reach = 4 | 6 | "both"

/**
 * IP literal for `host`, resolving names (an IP literal stays as is) to an address the
 * socket can reach. A dual-stack socket takes the name's IPv4 address when it has one: a
 * name sent through it is a tracker or a DHT router, whose IPv4 service is the main one
 * (the DHT sends names through its IPv4 table), and a name such as `localhost` with no
 * IPv6 address (or a router listening on 127.0.0.1 only) must still be reached.
 */
const resolveHost = (host: string, reach: Reach): Effect.Effect<string, NetError> => {
  if (Net.isIP(host) !== 0) return Effect.succeed(host)
  return Effect.callback<string, NetError>((resume) => {
    Dns.lookup(host, { all: true, family: reach === "both" ? 0 : reach }, (err, addresses) => {
      const chosen = addresses?.find((a) => a.family === 4) ?? addresses?.[0]
      if (err !== null || chosen === undefined) {
        const detail = err === null ? `no IPv${reach === "both" ? "4 or IPv6" : reach} address` : describeCause(err)
        resume(Effect.fail(new NetIoError({ op: "resolve", address: host, detail })))
      } else {
        resume(Effect.succeed(chosen.address))
      }
    })
  })
}

export const udp = (bind: Address, options: UdpOptions = {}): Effect.Effect<UdpSocket, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const target = formatAddress(bind)
    const v6 = Net.isIPv6(bind.host)
    const socket = Dgram.createSocket({ type: v6 ? "udp6" : "udp4", reuseAddr: options.reuseAddress === true })
    let open = true
    // the end of a burst: once the datagrams node:dgram read together have been handled
    const inbox = makeDatagramInbox(RECEIVE_BUFFER, setImmediate)
    const end = (error: NetError) => {
      open = false
      inbox.end(error)
    }

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        end(new ConnectionClosed({ address: target }))
        try {
          socket.close()
        } catch {
          // already closed
        }
      })
    )
    const bound6 = yield* Effect.callback<boolean, NetError>((resume) => {
      const onError = (cause: Error) => {
        open = false
        // `::` on a machine without IPv6: bind every IPv4 interface instead (below)
        if (bind.host === ANY_HOST && NO_IPV6_ERRNOS.has(errnoOf(cause) ?? "")) return resume(Effect.succeed(false))
        resume(Effect.fail(
          errnoOf(cause) === "EADDRINUSE"
            ? new AddressInUse({ address: target })
            : new NetIoError({ op: "bind", address: target, detail: describeCause(cause) })
        ))
      }
      socket.once("error", onError)
      socket.bind({ address: bind.host, port: bind.port }, () => {
        socket.off("error", onError)
        resume(Effect.succeed(true))
      })
    })
    if (!bound6) return yield* udp({ host: ANY_IPV4, port: bind.port }, options)
    // a send error without a callback, or an ICMP error: nothing to do with it on a shared socket
    socket.on("error", () => {})
    const multicast = options.multicast
    if (multicast !== undefined) {
      try {
        socket.addMembership(multicast.group, multicast.interface)
        socket.setMulticastInterface(multicast.interface)
        socket.setMulticastTTL(multicast.ttl ?? 1)
        socket.setMulticastLoopback(multicast.loopback ?? true)
      } catch (cause) {
        socket.close()
        return yield* new NetIoError({ op: "bind", address: `${multicast.group} on ${multicast.interface}`, detail: describeCause(cause) })
      }
    }
    try {
      socket.setRecvBufferSize(KERNEL_BUFFER_BYTES)
      socket.setSendBufferSize(KERNEL_BUFFER_BYTES)
    } catch {
      // the kernel keeps its default: fine, just more drops under load
    }
    const bound = socket.address()
    const local: Address = { host: bound.address, port: bound.port }
    const localText = formatAddress(local)

    socket.on("message", (payload, rinfo) => inbox.deliver(payload, { host: unmapIpv4(rinfo.address), port: rinfo.port }))
    socket.on("close", () => end(new ConnectionClosed({ address: localText })))

    const reach: Reach = !v6 ? 4 : bind.host === ANY_HOST ? "both" : 6
    const literalFor = (host: string): string => (v6 && Net.isIPv4(host) ? `::ffff:${host}` : host)

    const send = (payload: Uint8Array, to: Address): Effect.Effect<void, NetError> =>
      Effect.gen(function*() {
        if (!open) return yield* new ConnectionClosed({ address: localText })
        const host = literalFor(yield* resolveHost(to.host, reach))
        yield* Effect.callback<void, NetError>((resume) => {
          try {
            socket.send(payload, to.port, host, (err) => {
              if (err === null || err === undefined) resume(Effect.void)
              else resume(Effect.fail(new NetIoError({ op: "send", address: formatAddress(to), detail: describeCause(err) })))
            })
          } catch (cause) {
            resume(Effect.fail(new NetIoError({ op: "send", address: formatAddress(to), detail: describeCause(cause) })))
          }
        })
      })

    const sendNow = (payload: Uint8Array, to: Address): boolean => {
      if (!open) return false
      try {
        socket.send(payload, to.port, literalFor(to.host))
        return true
      } catch {
        return false
      }
    }

    return { address: local, send, receive: inbox.receive, subscribe: inbox.subscribe, sendNow } satisfies UdpSocket
  })
