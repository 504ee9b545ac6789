/** UDP on node:dgram through @effect/platform-node-shared's `NodeDatagramSocket`. */
import * as NodeDatagramSocket from "@effect/platform-node-shared/NodeDatagramSocket"
import { Effect, Result, type Scope } from "effect"
import * as NetAddress from "effect/net/NetAddress"
import type * as DatagramSocket from "effect/socket/DatagramSocket"
import * as Dns from "node:dns"
import * as Net from "node:net"
import { AddressInUse, ConnectionClosed, type NetError, NetIoError } from "./errors.ts"
import { type Address, type Datagram, formatAddress, type UdpSocket } from "./Network.ts"

const toAddress = (inet: NetAddress.InetAddress): Address => ({
  host: NetAddress.formatIp(inet.address),
  port: inet.port
})

const describeCause = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/** IP literal for `host`, resolving names (an IP literal stays as is). */
const resolveHost = (host: string, family: 4 | 6): Effect.Effect<string, NetError> => {
  if (Net.isIP(host) !== 0) return Effect.succeed(host)
  return Effect.callback<string, NetError>((resume) => {
    Dns.lookup(host, { family }, (err, address) => {
      if (err !== null) {
        resume(Effect.fail(new NetIoError({ op: "resolve", address: host, detail: describeCause(err) })))
      } else {
        resume(Effect.succeed(address))
      }
    })
  })
}

export const udp = (bind: Address): Effect.Effect<UdpSocket, NetError, Scope.Scope> =>
  Effect.gen(function*() {
    const target = formatAddress(bind)
    const socket = yield* NodeDatagramSocket.make({ bind: { address: bind.host, port: bind.port } })
    // acquiring the reader binds the socket (needed even to only send)
    const reader = yield* socket.reader.pipe(
      Effect.mapError((e): NetError => {
        const reason = e.reason
        if (reason._tag === "DatagramSocketOpenError" && reason.kind === "AddressInUse") {
          return new AddressInUse({ address: target })
        }
        return new NetIoError({ op: "bind", address: target, detail: e.message })
      })
    )
    const writer = yield* socket.writer
    // The platform writer waits forever once the reader is gone: fail sends after close instead.
    let open = true
    yield* Effect.addFinalizer(() => Effect.sync(() => (open = false)))
    const local = toAddress(reader.address)
    const localText = formatAddress(local)
    const v6 = NetAddress.isInetAddressV6(reader.address)

    const fromSocketError = (e: DatagramSocket.DatagramSocketError, op: "send" | "receive", address: string): NetError =>
      e.reason._tag === "DatagramSocketClosedError"
        ? new ConnectionClosed({ address: localText })
        : new NetIoError({ op, address, detail: "cause" in e.reason ? describeCause(e.reason.cause) : e.message })

    let batch: ReadonlyArray<DatagramSocket.Datagram> = []
    let next = 0
    const receive: Effect.Effect<Datagram, NetError> = Effect.suspend(() => {
      const queued = batch[next]
      if (queued !== undefined) {
        next++
        return Effect.succeed({ payload: queued.payload, from: toAddress(queued.address) })
      }
      return reader.pull.pipe(
        Effect.map((datagrams) => {
          batch = datagrams
          next = 1
          const first = datagrams[0]
          return { payload: first.payload, from: toAddress(first.address) }
        }),
        Effect.mapError((e) => fromSocketError(e, "receive", localText))
      )
    })

    const send = (payload: Uint8Array, to: Address): Effect.Effect<void, NetError> =>
      Effect.gen(function*() {
        if (!open) return yield* new ConnectionClosed({ address: localText })
        const host = yield* resolveHost(to.host, v6 ? 6 : 4)
        // a dual-stack socket reaches IPv4 hosts through IPv4-mapped addresses
        const literal = v6 && Net.isIPv4(host) ? `::ffff:${host}` : host
        const inet = NetAddress.inetAddressFromIpString(literal, to.port)
        if (Result.isFailure(inet)) {
          return yield* new NetIoError({ op: "send", address: formatAddress(to), detail: inet.failure.message })
        }
        yield* writer.write({ payload, address: inet.success }).pipe(
          Effect.mapError((e) => fromSocketError(e, "send", formatAddress(to)))
        )
      })

    return { address: local, send, receive } satisfies UdpSocket
  })
