/**
 * Peer exchange (BEP 11): tell each peer that speaks ut_pex which peers joined and left
 * since we last told it, at most 50 of each per message and at most one message a minute.
 * The first message (the peers we have now) goes out within a second of a peer being able
 * to take it, as libtorrent does: a newcomer need not wait a minute to meet the swarm.
 * Only peers whose listening address we know are shared, IPv4 ones in `added`/`dropped`
 * and IPv6 ones in `added6`/`dropped6` (ut-pex.ts), flagged 0x04 when they speak uTP and
 * 0x01 (`added.f`) when they prefer encryption (they spoke MSE with us, or another peer's
 * PEX said so). Disabled for private torrents.
 */
import { Clock, Effect } from "effect"
import type { PeerKey } from "../ids.ts"
import { type Address, formatAddress } from "../net/index.ts"
import type { PeerLink } from "../peer/index.ts"
import { encodeUtPex, PEX_PREFERS_ENCRYPTION, PEX_UTP, type PexPeer } from "../wire/index.ts"

const PEX_INTERVAL_MILLIS = 60_000
/** How often the links are looked at: the delay of a newcomer's first message. */
const PEX_TICK = "1 second"
const PEX_MAX_PER_MESSAGE = 50

/** The addresses told to one peer, by key, oldest first (a `ReadonlyMap` will do). */
export interface TellingSoFar extends Iterable<readonly [string, Address]> {
  has(key: string): boolean
}

/**
 * What one peer was told, as two arrays in the order told: a `Map` of its ~50 addresses
 * kept a 64-slot hash table (~1.8 KB) per peer, most of a PEX's cost per session (issue 18).
 * Lookups are linear, once a minute per peer, over as many keys as the torrent has peers.
 */
class Told implements TellingSoFar {
  private readonly keys: Array<string> = []
  private readonly addresses: Array<Address> = []
  has(key: string): boolean {
    return this.keys.includes(key)
  }
  add(key: string, address: Address): void {
    this.keys.push(key)
    this.addresses.push(address)
  }
  delete(key: string): void {
    const i = this.keys.indexOf(key)
    if (i < 0) return
    this.keys.splice(i, 1)
    this.addresses.splice(i, 1)
  }
  *[Symbol.iterator](): Iterator<readonly [string, Address]> {
    for (let i = 0; i < this.keys.length; i++) {
      const key = this.keys[i]
      const address = this.addresses[i]
      if (key !== undefined && address !== undefined) yield [key, address]
    }
  }
}

/** What to tell one peer: its view so far (`sent`) against the swarm now. Pure. */
export const pexDelta = (
  sent: TellingSoFar,
  current: ReadonlyMap<string, PexPeer>,
  self: string
): { readonly added: Array<PexPeer>; readonly dropped: Array<Address> } => {
  const added: Array<PexPeer> = []
  const dropped: Array<Address> = []
  for (const [key, address] of current) {
    if (key !== self && !sent.has(key) && added.length < PEX_MAX_PER_MESSAGE) added.push(address)
  }
  for (const [key, address] of sent) {
    if (!current.has(key) && dropped.length < PEX_MAX_PER_MESSAGE) dropped.push(address)
  }
  return { added, dropped }
}

/**
 * `speaksUtp`: whether to flag an address 0x04 ("supports uTP") in what we tell others;
 * `prefersEncryption`: whether to flag it 0x01, by connection key (the peer book's answer).
 */
export const runPex = (
  links: ReadonlyMap<string, PeerLink>,
  speaksUtp: (address: Address) => boolean,
  prefersEncryption: (key: PeerKey) => boolean
) =>
  Effect.gen(function*() {
    const told = new Map<string, Told>()
    const lastSent = new Map<string, number>()
    // One string per address for every `told` map: each peer's map holds up to 50 of them,
    // and a fresh one per entry was most of what a session cost in a big swarm (~3 KB).
    let names = new Map<string, string>()
    while (true) {
      yield* Effect.sleep(PEX_TICK)
      const now = yield* Clock.currentTimeMillis
      const current = new Map<string, PexPeer>()
      const nextNames = new Map<string, string>()
      for (const l of links.values()) {
        const at = l.stats.listenAddress
        if (at === null) continue
        const flags = (speaksUtp(at) ? PEX_UTP : 0) | (prefersEncryption(l.stats.key) ? PEX_PREFERS_ENCRYPTION : 0)
        const text = formatAddress(at)
        const name = names.get(text) ?? text
        nextNames.set(name, name)
        current.set(name, flags === 0 ? at : { host: at.host, port: at.port, flags })
      }
      names = nextNames
      for (const key of told.keys()) if (!links.has(key)) told.delete(key)
      for (const key of lastSent.keys()) if (!links.has(key)) lastSent.delete(key)
      for (const [key, link] of links) {
        const last = lastSent.get(key)
        if (last !== undefined && now - last < PEX_INTERVAL_MILLIS) continue
        const sent = told.get(key) ?? new Told()
        const self = link.stats.listenAddress === null ? key : formatAddress(link.stats.listenAddress)
        const delta = pexDelta(sent, current, self)
        if (delta.added.length === 0 && delta.dropped.length === 0) continue
        if (!link.sendExtended("ut_pex", encodeUtPex(delta))) continue
        lastSent.set(key, now)
        for (const a of delta.added) {
          const text = formatAddress(a)
          sent.add(names.get(text) ?? text, a)
        }
        for (const d of delta.dropped) sent.delete(formatAddress(d))
        told.set(key, sent)
      }
    }
  })
