/**
 * Compact encodings (BEP 5): a peer is 6 bytes (IPv4 + port, network order),
 * a node 26 bytes (20-byte id + peer). Only IPv4 literals have a compact form;
 * other hosts are skipped by the encoders (the callers only ever hold IP
 * literals taken from datagram sources or decoded compact data).
 */
import type { Address } from "../net/index.ts"
import { ID_LENGTH } from "./id.ts"

export interface NodeInfo {
  readonly id: Uint8Array
  readonly address: Address
}

export const PEER_LENGTH = 6
export const NODE_LENGTH = ID_LENGTH + PEER_LENGTH

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/

/** The 4 bytes of an IPv4 literal, or undefined. */
export const ipv4Bytes = (host: string): Uint8Array | undefined => {
  const m = IPV4.exec(host)
  if (m === null) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const n = Number(m[i + 1])
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

const validPort = (port: number) => Number.isInteger(port) && port > 0 && port <= 0xffff

export const encodePeer = (address: Address): Uint8Array | undefined => {
  const ip = ipv4Bytes(address.host)
  if (ip === undefined || !validPort(address.port)) return undefined
  const out = new Uint8Array(PEER_LENGTH)
  out.set(ip, 0)
  out[4] = address.port >> 8
  out[5] = address.port & 0xff
  return out
}

/** `bytes` must hold 6 bytes at `offset`; port 0 gives undefined (unusable address). */
export const decodePeer = (bytes: Uint8Array, offset = 0): Address | undefined => {
  const port = ((bytes[offset + 4] ?? 0) << 8) | (bytes[offset + 5] ?? 0)
  if (port === 0) return undefined
  return {
    host: `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`,
    port
  }
}

export const encodeNodes = (nodes: ReadonlyArray<NodeInfo>): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const n of nodes) {
    const peer = encodePeer(n.address)
    if (peer !== undefined && n.id.length === ID_LENGTH) parts.push(n.id, peer)
  }
  const out = new Uint8Array(parts.length / 2 * NODE_LENGTH)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Caller checked `bytes.length % 26 === 0`. Entries with port 0 are dropped. */
export const decodeNodes = (bytes: Uint8Array): ReadonlyArray<NodeInfo> => {
  const out: Array<NodeInfo> = []
  for (let at = 0; at + NODE_LENGTH <= bytes.length; at += NODE_LENGTH) {
    const address = decodePeer(bytes, at + ID_LENGTH)
    if (address !== undefined) out.push({ id: bytes.slice(at, at + ID_LENGTH), address })
  }
  return out
}
