/**
 * The addresses a torrent knows, and when each may be dialled again. Pure data.
 *
 * Invariants:
 * - a banned key is never handed out again, whatever source re-announces it;
 * - a key is handed out only when it is not connected and its `retryAt` has passed;
 * - failures back off exponentially (15 s, 30 s, … up to 10 min) and an address that
 *   failed `maxFailures` times in a row is forgotten until a source announces it again.
 *
 * It also remembers how a connection to each peer opened last time it worked (MSE or a
 * plaintext handshake), so the next dial starts with that, and whether the peer prefers
 * encryption (it spoke MSE with us, or PEX said so: `added.f` bit 0x01).
 *
 * Keys are `host:port`. A ban also covers the peer's IP, so it cannot come back from
 * another port (an incoming connection's port is ephemeral) — except on loopback, where
 * every local peer shares one IP and an IP ban would ban the whole swarm.
 */
import { type PeerKey, peerKey } from "../ids.ts"
import { MinHeap } from "../heap.ts"
import { type Address, isLoopback, parseAddress } from "../net/index.ts"

/** How a connection opened: an MSE handshake, or a plaintext BitTorrent handshake. */
export type Opening = "mse" | "plain"

/** An address as peer sources report it; PEX may say the peer prefers encryption. */
export interface KnownAddress extends Address {
  readonly prefersEncryption?: boolean
}

interface Entry {
  readonly address: Address
  readonly source: string
  failures: number
  retryAt: number
  connected: boolean
  /** The opening that last led to a handshake with this peer. */
  opening: Opening | undefined
  prefersEncryption: boolean
  /** Its place in the book's insertion order (the tie-break among equally good addresses). */
  readonly seq: number
  /** Bumped at every change of what makes it due (connected, failures, retryAt) or its removal. */
  version: number
}

/** An entry waiting to be dialled, as it was when queued; stale once the entry's version moved on. */
interface Waiting {
  readonly e: Entry
  readonly version: number
  readonly retryAt: number
  readonly seq: number
}

const sooner = (a: Waiting, b: Waiting): boolean => a.retryAt < b.retryAt || (a.retryAt === b.retryAt && a.seq < b.seq)

export interface PeerBook {
  /** Returns how many addresses were new. */
  readonly add: (addresses: ReadonlyArray<KnownAddress>, source: string, now: number) => number
  /** The next address to dial, or undefined. Marks it connected. */
  readonly next: (now: number) => Address | undefined
  /** When `next` will have an address (now or earlier: it has one), or undefined while none is waiting. */
  readonly nextDialAt: () => number | undefined
  /** An incoming or outgoing connection for this key is live. */
  readonly markConnected: (key: PeerKey, address: Address) => void
  /**
   * An incoming connection (`key` = its ephemeral remote port) told us where the peer
   * listens: that address counts as connected too, so we do not dial the peer twice.
   */
  readonly alias: (key: PeerKey, listening: Address) => void
  /** The connection ended; `failed` schedules a backoff, otherwise it may be retried soon. */
  readonly markDisconnected: (key: PeerKey, failed: boolean, now: number) => void
  /**
   * Every connection was closed by us (a pause): sessions interrupted book no ending, so
   * this does it for all of them. The peers that were connected are due again at `now`
   * (a resume dials them at once, as libtorrent and Transmission keep their peer list).
   */
  readonly stopped: (now: number) => void
  readonly ban: (key: PeerKey) => void
  readonly isBanned: (key: PeerKey) => boolean
  readonly banned: () => number
  /** How the last successful connection to `key` opened, if any. */
  readonly openingOf: (key: PeerKey) => Opening | undefined
  /** A handshake with `key` succeeded after this opening (it also sets `prefersEncryption`). */
  readonly opened: (key: PeerKey, opening: Opening) => void
  /** It spoke MSE with us, or a peer source said it prefers encryption. */
  readonly prefersEncryption: (key: PeerKey) => boolean
  /** Addresses known and not connected. */
  readonly candidates: () => number
}

const BASE_BACKOFF_MS = 15_000
const MAX_BACKOFF_MS = 600_000
const RECONNECT_MS = 30_000

/** A listening address as every book keeps it: its key and a plain copy (see `listening`). */
interface Shared {
  readonly key: PeerKey
  readonly address: Address
}

/** Listening addresses met lately, by key; emptied when full (as `parseIp`'s hosts are). */
const sharedAddresses = new Map<string, Shared>()
const SHARED_ADDRESSES_MAX = 8192

/**
 * One key string and one address object for a listening address, whichever books know it.
 * Every torrent (every host of a simulated swarm) keeps an entry per address it heard of,
 * from tracker replies and PEX, each parsed afresh: at 1 000 simulated hosts that is a
 * million entries, and a key and an address of their own were ~100 bytes of each. Both are
 * immutable. Ephemeral ports (incoming connections) are not shared: they never repeat.
 */
const listening = (address: Address): Shared => {
  const key = peerKey(address)
  const known = sharedAddresses.get(key)
  if (known !== undefined) return known
  if (sharedAddresses.size >= SHARED_ADDRESSES_MAX) sharedAddresses.clear()
  const shared: Shared = { key, address: { host: address.host, port: address.port } }
  sharedAddresses.set(key, shared)
  return shared
}

let entrySeq = 0
/** `address` is the entry's own: a copy, or a shared one (`listening`). */
const entry = (address: Address, source: string, retryAt: number, connected: boolean, prefersEncryption = false): Entry => ({
  address,
  source,
  failures: 0,
  retryAt,
  connected,
  opening: undefined,
  prefersEncryption,
  seq: entrySeq++,
  version: 0
})

export const makePeerBook = (options: { readonly maxFailures?: number; readonly maxEntries?: number } = {}): PeerBook => {
  const maxFailures = options.maxFailures ?? 5
  const maxEntries = options.maxEntries ?? 5_000
  const entries = new Map<PeerKey, Entry>()
  const bannedKeys = new Set<PeerKey>()
  const bannedHosts = new Set<string>()
  const aliases = new Map<PeerKey, PeerKey>()
  // keys are formatAddress's: parsing one back gives its host
  const hostOf = (key: PeerKey): string => parseAddress(key)?.host ?? key
  // Asked for every address a tracker reply or PEX message carries: parse the key only when
  // some host is banned (a parse was 3 % of a 100-peer simulation's CPU, almost all for nothing).
  const banned = (key: PeerKey): boolean => bannedKeys.has(key) || (bannedHosts.size > 0 && bannedHosts.has(hostOf(key)))

  // The entries waiting to be dialled (not connected, not forgotten), one heap per failure
  // count, each by (retryAt, insertion order): `next` and `nextDialAt` look at the heads
  // instead of scanning every entry. A swarm's dialler asks both for every dial, and a big
  // simulated one (1 000 hosts, each with ~1 000 addresses) spent about half its CPU in
  // those scans. Entries whose state changed leave stale records behind, skipped at the head.
  const waiting: Array<MinHeap<Waiting>> = Array.from({ length: Math.max(0, maxFailures) }, () => new MinHeap(sooner))
  let queued = 0
  const live = (w: Waiting): boolean => w.version === w.e.version
  /** Call after changing `connected`, `failures` or `retryAt` of an entry in the book. */
  const requeue = (e: Entry): void => {
    e.version++
    if (e.connected || e.failures >= maxFailures) return
    const heap = waiting[e.failures]
    if (heap === undefined) return
    heap.push({ e, version: e.version, retryAt: e.retryAt, seq: e.seq })
    if (++queued > 4 * entries.size + 1024) {
      for (const h of waiting) h.retain(live)
      queued = waiting.reduce((n, h) => n + h.size, 0)
    }
  }
  const remove = (key: PeerKey, e: Entry): void => {
    e.version++
    entries.delete(key)
  }
  const head = (heap: MinHeap<Waiting>): Waiting | undefined => {
    let top = heap.peek()
    while (top !== undefined && !live(top)) {
      heap.pop()
      queued--
      top = heap.peek()
    }
    return top
  }

  return {
    add: (addresses, source, now) => {
      let added = 0
      for (const address of addresses) {
        const shared = listening(address)
        const key = shared.key
        if (banned(key)) continue
        const known = entries.get(key)
        if (known !== undefined && address.prefersEncryption === true) known.prefersEncryption = true
        if (known !== undefined) {
          // Re-announced: a forgotten peer becomes dialable again, a backing-off one keeps its delay.
          if (!known.connected && known.failures >= maxFailures) {
            known.failures = 0
            known.retryAt = now
            requeue(known)
          }
          continue
        }
        if (entries.size >= maxEntries) continue
        const e = entry(shared.address, source, now, false, address.prefersEncryption === true)
        entries.set(key, e)
        requeue(e)
        added++
      }
      return added
    },
    // the fewest failures first, then the longest due, then the oldest in the book
    next: (now) => {
      for (const heap of waiting) {
        const top = head(heap)
        if (top === undefined || top.retryAt > now) continue
        top.e.connected = true
        requeue(top.e)
        return top.e.address
      }
      return undefined
    },
    nextDialAt: () => {
      let at: number | undefined
      for (const heap of waiting) {
        const top = head(heap)
        if (top !== undefined && (at === undefined || top.retryAt < at)) at = top.retryAt
      }
      return at
    },
    markConnected: (key, address) => {
      const e = entries.get(key)
      if (e !== undefined) {
        e.connected = true
        requeue(e)
      } else entries.set(key, entry({ host: address.host, port: address.port }, "incoming", 0, true))
    },
    alias: (key, listenAddress) => {
      const shared = listening(listenAddress)
      const listenKey = shared.key
      if (listenKey === key) return
      const known = entries.get(listenKey)
      const incoming = entries.get(key)
      if (known !== undefined) {
        known.connected = true
        requeue(known)
      } else if (entries.size < maxEntries) entries.set(listenKey, entry(shared.address, "listen", 0, true))
      // what worked on the incoming connection is worth knowing when we dial it back
      const target = entries.get(listenKey)
      if (target !== undefined && incoming !== undefined) {
        target.opening ??= incoming.opening
        target.prefersEncryption ||= incoming.prefersEncryption
      }
      aliases.set(key, listenKey)
    },
    markDisconnected: (key, failed, now) => {
      const listenKey = aliases.get(key)
      if (listenKey !== undefined) {
        aliases.delete(key)
        const l = entries.get(listenKey)
        if (l !== undefined) {
          l.connected = false
          l.retryAt = now + RECONNECT_MS
          requeue(l)
        }
      }
      const e = entries.get(key)
      if (e === undefined) return
      // An incoming connection's port is ephemeral: nobody listens there, never dial it.
      if (e.source === "incoming") {
        remove(key, e)
        return
      }
      e.connected = false
      if (failed) {
        e.failures++
        e.retryAt = now + Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (e.failures - 1))
      } else {
        e.failures = 0
        e.retryAt = now + RECONNECT_MS
      }
      requeue(e)
    },
    stopped: (now) => {
      aliases.clear()
      for (const [key, e] of entries) {
        if (!e.connected) continue
        if (e.source === "incoming") remove(key, e)
        else {
          e.connected = false
          e.retryAt = now
          requeue(e)
        }
      }
    },
    ban: (key) => {
      bannedKeys.add(key)
      const host = hostOf(key)
      if (!isLoopback(host)) bannedHosts.add(host)
      const e = entries.get(key)
      if (e !== undefined && !e.connected) remove(key, e)
      else if (e !== undefined) {
        e.failures = maxFailures
        requeue(e)
      }
    },
    isBanned: banned,
    banned: () => bannedKeys.size,
    openingOf: (key) => entries.get(key)?.opening,
    opened: (key, opening) => {
      const e = entries.get(key)
      if (e === undefined) return
      e.opening = opening
      // what just worked is the best evidence; a later PEX flag can say otherwise again
      e.prefersEncryption = opening === "mse"
    },
    prefersEncryption: (key) => {
      const e = entries.get(key)
      if (e !== undefined) return e.prefersEncryption
      const listenKey = aliases.get(key)
      return listenKey === undefined ? false : entries.get(listenKey)?.prefersEncryption ?? false
    },
    candidates: () => {
      let n = 0
      for (const e of entries.values()) if (!e.connected && e.failures < maxFailures) n++
      return n
    }
  }
}
