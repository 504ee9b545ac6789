/**
 * The choker (BEP 3 tit-for-tat plus common practice), as a pure function of
 * peer statistics. The caller runs it every 10 s (see `runChoker`) and feeds
 * back the optimistic peer and when it was chosen.
 *
 * Rules:
 * - `slots` regular upload slots (default 4) go to interested peers:
 *   - leeching: those that send us data fastest (`downloadRate`), tit-for-tat;
 *   - seeding: those we upload to fastest (`uploadRate`). Chosen over round
 *     robin because it needs no per-peer history (this function stays pure and
 *     stateless apart from the optimistic slot), it spends our upload where it
 *     spreads pieces quickest, and the rotating optimistic slot still gives
 *     every interested peer a turn.
 *   Equal rates are ordered randomly, so ties do not always favour the same peers.
 * - Snubbed peers (see `isSnubbed`) never take a regular slot while leeching:
 *   their zero download rate says nothing about reciprocity, but they would
 *   otherwise hold a slot on a stale upload rate. They remain eligible for the
 *   optimistic slot. While seeding we download nothing, so snubbing is ignored.
 * - One optimistic slot: an interested peer outside the regular slots, chosen
 *   at random, kept for `optimisticInterval` (30 s = every 3rd rechoke), then
 *   replaced by a different peer when there is one. Peers connected for less
 *   than `newPeerWindow` (60 s) are `newPeerWeight` (3) times as likely to be
 *   chosen: they have nothing to trade yet and this gets them started.
 * - Seeds are never unchoked: they cannot download from us.
 * So at most `slots + 1` peers are unchoked, all of them interested.
 */

export interface ChokePeer<K> {
  readonly key: K
  /** The peer is interested in what we have. */
  readonly interested: boolean
  /** Bytes/s we receive from the peer. */
  readonly downloadRate: number
  /** Bytes/s we send to the peer. */
  readonly uploadRate: number
  readonly snubbed: boolean
  /** Milliseconds (same clock as `now`). */
  readonly connectedAt: number
  readonly isSeed: boolean
}

export interface ChokeConfig {
  readonly slots: number
  readonly optimisticInterval: number
  readonly newPeerWindow: number
  readonly newPeerWeight: number
}

export const defaultChokeConfig: ChokeConfig = {
  slots: 4,
  optimisticInterval: 30_000,
  newPeerWindow: 60_000,
  newPeerWeight: 3
}

export interface ChokeInput<K> {
  readonly peers: ReadonlyArray<ChokePeer<K>>
  readonly now: number
  readonly seeding: boolean
  readonly previousOptimistic: K | null
  /** When `previousOptimistic` was chosen. */
  readonly optimisticSince: number | null
  /** Uniform in [0, 1). */
  readonly random: () => number
  readonly config?: Partial<ChokeConfig>
}

export interface ChokeResult<K> {
  /** Everyone to unchoke (regular + optimistic); choke every other peer. */
  readonly unchoke: ReadonlySet<K>
  /** Regular slots, best first. */
  readonly regular: ReadonlyArray<K>
  readonly optimistic: K | null
  /** Feed back as `optimisticSince` next time. */
  readonly optimisticSince: number | null
}

const shuffled = <A>(xs: ReadonlyArray<A>, random: () => number): Array<A> => {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(random() * (i + 1)))
    const a = out[i]
    const b = out[j]
    if (a !== undefined && b !== undefined) {
      out[i] = b
      out[j] = a
    }
  }
  return out
}

const weightedPick = <K>(
  peers: ReadonlyArray<ChokePeer<K>>,
  weight: (p: ChokePeer<K>) => number,
  random: () => number
): ChokePeer<K> | null => {
  const total = peers.reduce((sum, p) => sum + weight(p), 0)
  let x = random() * total
  for (const p of peers) {
    x -= weight(p)
    if (x < 0) return p
  }
  return peers[peers.length - 1] ?? null
}

const rate = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0)

export const choke = <K>(input: ChokeInput<K>): ChokeResult<K> => {
  const cfg = { ...defaultChokeConfig, ...input.config }
  const slots = Math.max(0, Math.floor(cfg.slots))
  const { now, random } = input
  const candidates = input.peers.filter((p) => p.interested && !p.isSeed)

  const speed = input.seeding ? (p: ChokePeer<K>) => rate(p.uploadRate) : (p: ChokePeer<K>) => rate(p.downloadRate)
  const regularPeers = shuffled(candidates.filter((p) => input.seeding || !p.snubbed), random)
    .sort((a, b) => speed(b) - speed(a)) // stable: ties keep the shuffled order
    .slice(0, slots)
  const regular = regularPeers.map((p) => p.key)
  const inRegular = new Set(regular)

  const pool = candidates.filter((p) => !inRegular.has(p.key))
  const previous = pool.find((p) => p.key === input.previousOptimistic)
  let optimistic: K | null = null
  let optimisticSince: number | null = null
  if (previous !== undefined && input.optimisticSince !== null && now - input.optimisticSince < cfg.optimisticInterval) {
    optimistic = previous.key
    optimisticSince = input.optimisticSince
  } else {
    const others = pool.filter((p) => p.key !== input.previousOptimistic)
    const weight = (p: ChokePeer<K>) => (now - p.connectedAt < cfg.newPeerWindow ? cfg.newPeerWeight : 1)
    const chosen = weightedPick(others.length > 0 ? others : pool, weight, random)
    if (chosen !== null) {
      optimistic = chosen.key
      optimisticSince = now
    }
  }

  const unchoke = new Set(regular)
  if (optimistic !== null) unchoke.add(optimistic)
  return { unchoke, regular, optimistic, optimisticSince }
}

export interface SnubInput {
  /** We are interested in the peer (so we keep requests outstanding). */
  readonly amInterested: boolean
  /** The peer is choking us. */
  readonly peerChoking: boolean
  /** When the peer last unchoked us (ms), or null. */
  readonly unchokedAt: number | null
  /** When we last received a block from the peer (ms), or null. */
  readonly lastBlockAt: number | null
}

/**
 * Anti-snubbing: a peer is snubbed when we are interested in it, it has us
 * unchoked, and it sent us no block for `timeout` ms (default 60 s) since the
 * later of its unchoke and its last block. Choked-by-peer or uninteresting
 * peers are never snubbed: they owe us nothing.
 */
export const isSnubbed = (p: SnubInput, now: number, timeout = 60_000): boolean => {
  if (!p.amInterested || p.peerChoking || p.unchokedAt === null) return false
  const since = Math.max(p.unchokedAt, p.lastBlockAt ?? Number.NEGATIVE_INFINITY)
  return now - since >= timeout
}
