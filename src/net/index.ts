/**
 * The network edge: the `Network` service (TCP connect/listen, UDP) and its
 * real implementation `NodeNetwork.layer`. Nothing else in the client touches
 * node:net or node:dgram.
 */
export {
  AddressInUse,
  ConnectionClosed,
  ConnectionReset,
  ConnectRefused,
  ConnectTimeout,
  type NetError,
  NetIoError
} from "./errors.ts"
export {
  ANY_HOST,
  ANY_IPV4,
  compactLength,
  type CompactFamily,
  decodeCompact,
  decodeCompactList,
  encodeCompact,
  encodeCompactList,
  formatAddress,
  ipBytes,
  ipFamily,
  isLocalNetwork,
  isLoopback,
  isValidPort,
  parseAddress,
  parseIp,
  unmapIpv4
} from "./address.ts"
export {
  type Address,
  type ConnectOptions,
  type Connection,
  type Datagram,
  type DatagramHandler,
  type Listener,
  Network,
  type UdpOptions,
  type UdpSocket
} from "./Network.ts"
/**
 * The real `Network` on Node: `NodeNetwork.layer` (node:net sockets with timeouts,
 * node:dgram for UDP). `layerNode` provides it; tests and the simulator provide their own.
 */
export * as NodeNetwork from "./NodeNetwork.ts"
export { type DatagramInbox, type Inbox, makeDatagramInbox, makeInbox } from "./inbox.ts"
export { makeReadableSlot, type ReadableSlot } from "./readable.ts"
export { globalIpv6, type InterfaceAddress, pickGlobalIpv6 } from "./interfaces.ts"
export { serve } from "./serve.ts"
