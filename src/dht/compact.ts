/**
 * Compact encodings (BEP 5, BEP 32): a peer is 6 bytes (IPv4 + port, network order) or 18
 * (IPv6 + port); a node is a 20-byte id and a peer: 26 bytes in `nodes`, 38 in `nodes6`.
 * A node list holds one family; addresses of the other family (or host names) are left out
 * by the encoders (the callers only ever hold IP literals taken from datagram sources or
 * decoded compact data).
 */
import { type Address, type CompactFamily, compactLength, decodeCompact, encodeCompact, ipFamily } from "../net/index.ts"
import { ID_LENGTH } from "./id.ts"

export interface NodeInfo {
  readonly id: Uint8Array
  readonly address: Address
}

export type Family = CompactFamily

export const PEER_LENGTH = 6
export const PEER6_LENGTH = 18
export const NODE_LENGTH = ID_LENGTH + PEER_LENGTH
export const NODE6_LENGTH = ID_LENGTH + PEER6_LENGTH

/** Bytes of one compact node of `family`: 26 or 38. */
export const nodeLength = (family: Family): number => ID_LENGTH + compactLength(family)

/** The DHT an address belongs to (BEP 32: two independent DHTs); undefined for a host name. */
export const familyOf = (address: Address): Family | undefined => ipFamily(address.host)

/** One peer in compact form of `family` (default IPv4); undefined for any other host or an unusable port. */
export const encodePeer = (address: Address, family: Family = 4): Uint8Array | undefined => encodeCompact(address, family)

/** `bytes` must hold 6 (or 18) bytes at `offset`; port 0 gives undefined (unusable address). */
export const decodePeer = (bytes: Uint8Array, offset = 0, family: Family = 4): Address | undefined =>
  decodeCompact(bytes, offset, family)

export const encodeNodes = (nodes: ReadonlyArray<NodeInfo>, family: Family = 4): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (const n of nodes) {
    const peer = encodePeer(n.address, family)
    if (peer !== undefined && n.id.length === ID_LENGTH) parts.push(n.id, peer)
  }
  const out = new Uint8Array(parts.length / 2 * nodeLength(family))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Caller checked `bytes.length % nodeLength(family) === 0`. Entries with port 0 are dropped. */
export const decodeNodes = (bytes: Uint8Array, family: Family = 4): ReadonlyArray<NodeInfo> => {
  const width = nodeLength(family)
  const out: Array<NodeInfo> = []
  for (let at = 0; at + width <= bytes.length; at += width) {
    const address = decodePeer(bytes, at + ID_LENGTH, family)
    if (address !== undefined) out.push({ id: bytes.slice(at, at + ID_LENGTH), address })
  }
  return out
}
