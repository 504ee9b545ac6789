/**
 * Whom to blame for pieces that failed their hash check: a pure ledger, one per torrent.
 *
 * Rules:
 * - A piece from one peer alone convicts it.
 * - A piece from several peers gives each a strike; `maxStrikes` strikes convict.
 * - A failed piece that a convicted peer contributed to is its fault alone: nobody else gets
 *   a strike (blocks it sent before its ban still sit in other pieces and fail them).
 * - When a peer is convicted, the strikes it brought on the others are taken back: the
 *   pieces they shared with it are explained.
 * - Several peers reaching `maxStrikes` at once are convicted one at a time, most strikes
 *   first, taking back strikes after each; so a peer that only ever failed alongside a
 *   worse one goes free. Peers that failed exactly together every time cannot be told apart
 *   this way and are convicted together.
 *
 * Invariants: a peer is convicted at most once; strikes are never negative; the ledger of
 * shared failures is bounded (`maxRecords`, oldest dropped first).
 */
export interface Blame<K = string> {
  readonly maxStrikes: number
  readonly maxRecords: number
  readonly strikes: Map<K, number>
  /** Shared failures not yet explained by a conviction, oldest first. */
  readonly shared: Array<ReadonlySet<K>>
  readonly convicted: Set<K>
}

export const makeBlame = <K = string>(maxStrikes: number, maxRecords = 256): Blame<K> => ({
  maxStrikes: Math.max(1, maxStrikes),
  maxRecords,
  strikes: new Map(),
  shared: [],
  convicted: new Set()
})

const convict = <K>(blame: Blame<K>, peer: K): void => {
  blame.convicted.add(peer)
  blame.strikes.delete(peer)
  for (let i = blame.shared.length - 1; i >= 0; i--) {
    const record = blame.shared[i]
    if (record === undefined || !record.has(peer)) continue
    blame.shared.splice(i, 1)
    for (const other of record) {
      const count = blame.strikes.get(other)
      if (other !== peer && count !== undefined) blame.strikes.set(other, Math.max(0, count - 1))
    }
  }
}

/** Records a failed piece sent by `contributors`; returns the peers convicted by it, to ban. */
export const pieceFailed = <K>(blame: Blame<K>, contributors: ReadonlySet<K>): ReadonlyArray<K> => {
  if (contributors.size === 0) return []
  for (const peer of contributors) if (blame.convicted.has(peer)) return []
  if (contributors.size === 1) {
    const [peer] = contributors
    if (peer === undefined) return []
    convict(blame, peer)
    return [peer]
  }
  blame.shared.push(new Set(contributors))
  if (blame.shared.length > blame.maxRecords) blame.shared.shift()
  for (const peer of contributors) blame.strikes.set(peer, (blame.strikes.get(peer) ?? 0) + 1)
  const out: Array<K> = []
  while (true) {
    let worst: K | undefined
    let most = 0
    for (const peer of contributors) {
      const count = blame.strikes.get(peer) ?? 0
      if (!blame.convicted.has(peer) && count >= blame.maxStrikes && count > most) {
        worst = peer
        most = count
      }
    }
    if (worst === undefined) return out
    // Peers tied with the worst are indistinguishable here: convict them together.
    const tied = [...contributors].filter((p) => !blame.convicted.has(p) && (blame.strikes.get(p) ?? 0) === most)
    for (const peer of tied) blame.convicted.add(peer)
    for (const peer of tied) convict(blame, peer)
    out.push(...tied)
  }
}

/** Whether `peer` was convicted (its later failures explain the pieces it shares). */
export const isConvicted = <K>(blame: Blame<K>, peer: K): boolean => blame.convicted.has(peer)
