import { Schema } from "effect"

/**
 * Everything that can go wrong on a socket, as values. `address` is always the
 * remote (or, for listen/bind, the local) endpoint formatted `host:port`, so a
 * log line says which peer or tracker misbehaved.
 */

/** Nobody listens at the address (TCP RST on connect, or ICMP port unreachable). */
export class ConnectRefused extends Schema.TaggedError<ConnectRefused>()("ConnectRefused", {
  address: Schema.String
}) {
  override get message(): string {
    return `connection refused by ${this.address}`
  }
}

/** The TCP handshake did not complete within the connect timeout. */
export class ConnectTimeout extends Schema.TaggedError<ConnectTimeout>()("ConnectTimeout", {
  address: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `connecting to ${this.address} timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * The stream ended cleanly: the remote closed its side (EOF), or this side was
 * closed and then used. Not a protocol failure on its own.
 */
export class ConnectionClosed extends Schema.TaggedError<ConnectionClosed>()("ConnectionClosed", {
  address: Schema.String
}) {
  override get message(): string {
    return `connection to ${this.address} is closed`
  }
}

/** The connection died abnormally (ECONNRESET, EPIPE, aborted). */
export class ConnectionReset extends Schema.TaggedError<ConnectionReset>()("ConnectionReset", {
  address: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `connection to ${this.address} was reset: ${this.detail}`
  }
}

/** listen/bind: the port is taken. */
export class AddressInUse extends Schema.TaggedError<AddressInUse>()("AddressInUse", {
  address: Schema.String
}) {
  override get message(): string {
    return `address ${this.address} is already in use`
  }
}

/** Any other socket failure (unreachable host, DNS failure, permission, oversized datagram...). */
export class NetIoError extends Schema.TaggedError<NetIoError>()("NetIoError", {
  op: Schema.Literals(["connect", "listen", "accept", "read", "write", "bind", "send", "receive", "resolve"]),
  address: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.op} ${this.address} failed: ${this.detail}`
  }
}

/** Every failure a socket operation of the `Network` service can have, as a union of tagged errors. */
export type NetError =
  | ConnectRefused
  | ConnectTimeout
  | ConnectionClosed
  | ConnectionReset
  | AddressInUse
  | NetIoError
