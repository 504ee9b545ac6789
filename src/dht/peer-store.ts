/**
 * Peers announced to us (announce_peer), by info-hash, each with an expiry.
 * Bounded on both axes so a flood of announces cannot grow memory: beyond
 * the caps the oldest info-hash / oldest peer is evicted.
 */
import type { Address } from "../net/index.ts"
import { type Family, familyOf } from "./compact.ts"

export const PEER_TTL_MILLIS = 30 * 60_000
export const MAX_INFO_HASHES = 2000
export const MAX_PEERS_PER_HASH = 200
/** IPv4 peers returned per get_peers answer (fits a 1.5 KiB datagram with room to spare). */
export const MAX_VALUES = 50
/** IPv6 peers (18 bytes each) per answer: with 8 nodes6 the reply stays near BEP 32's 1024 bytes. */
export const MAX_VALUES6 = 25

/** Mutable, owned by one node; keys are `idKey(infoHash)` and `host:port`. */
export type PeerStore = Map<string, Map<string, { readonly address: Address; readonly expires: number }>>

export const makePeerStore = (): PeerStore => new Map()

const prune = (peers: Map<string, { readonly expires: number }>, now: number) => {
  for (const [key, p] of peers) if (p.expires <= now) peers.delete(key)
}

export const storePeer = (store: PeerStore, hashKey: string, address: Address, now: number): void => {
  let peers = store.get(hashKey)
  if (peers === undefined) {
    if (store.size >= MAX_INFO_HASHES) {
      for (const [key, ps] of store) {
        prune(ps, now)
        if (ps.size === 0) store.delete(key)
      }
      if (store.size >= MAX_INFO_HASHES) {
        const oldest = store.keys().next()
        if (oldest.done !== true) store.delete(oldest.value)
      }
    }
    peers = new Map()
    store.set(hashKey, peers)
  }
  const key = `${address.host}:${address.port}`
  // re-inserting moves the peer to the end: Map order is then oldest-announce first
  peers.delete(key)
  peers.set(key, { address, expires: now + PEER_TTL_MILLIS })
  if (peers.size > MAX_PEERS_PER_HASH) {
    const oldest = peers.keys().next()
    if (oldest.done !== true) peers.delete(oldest.value)
  }
}

/**
 * Live peers for the hash, most recently announced first, at most `MAX_VALUES`; with `family`
 * only that family's (BEP 32: an answer over IPv4 carries IPv4 peers, over IPv6 IPv6 ones),
 * at most `MAX_VALUES6` of IPv6.
 */
export const peersFor = (store: PeerStore, hashKey: string, now: number, family?: Family): ReadonlyArray<Address> => {
  const peers = store.get(hashKey)
  if (peers === undefined) return []
  prune(peers, now)
  if (peers.size === 0) {
    store.delete(hashKey)
    return []
  }
  const all = [...peers.values()].reverse().map((p) => p.address)
  if (family === undefined) return all.slice(0, MAX_VALUES)
  return all.filter((a) => familyOf(a) === family).slice(0, family === 4 ? MAX_VALUES : MAX_VALUES6)
}
