/**
 * Compact encodings (BEP 5): a peer is 6 bytes (IPv4 + port, network order),
 * a node 26 bytes (20-byte id + peer). Only IPv4 literals have a compact form;
 * other hosts are skipped by the encoders (the callers only ever hold IP
 * literals taken from datagram sources or decoded compact data).
 */
import { type Address, decodeCompact, encodeCompact } from "../net/index.ts"
import { ID_LENGTH } from "./id.ts"

export interface NodeInfo {
  readonly id: Uint8Array
  readonly address: Address
}

export const PEER_LENGTH = 6
export const NODE_LENGTH = ID_LENGTH + PEER_LENGTH

/** One peer in compact IPv4 form; undefined for any other host or an unusable port. */
export const encodePeer = (address: Address): Uint8Array | undefined => encodeCompact(address, 4)

/** `bytes` must hold 6 bytes at `offset`; port 0 gives undefined (unusable address). */
export const decodePeer = (bytes: Uint8Array, offset = 0): Address | undefined => decodeCompact(bytes, offset, 4)

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
