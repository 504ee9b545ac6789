/**
 * Availability buckets: `lists[c]` holds the candidate pieces that exactly `c`
 * non-seed peers have. Add, remove and move are O(1) (swap-with-last), so a
 * `have` from any of 1000 peers costs nothing, and rarest-first is "scan the
 * lowest non-empty bucket" instead of sorting all pieces on every pick.
 *
 * Invariant: `pos[p] === -1` iff p is in no list; otherwise
 * `lists[c][pos[p]] === p` for exactly one c (the caller's availability of p).
 */
export interface Buckets {
  readonly lists: Array<Array<number>>
  readonly pos: Int32Array
  size: number
}

export const makeBuckets = (pieceCount: number): Buckets => ({
  lists: [],
  pos: new Int32Array(pieceCount).fill(-1),
  size: 0
})

export const inBuckets = (b: Buckets, piece: number): boolean => (b.pos[piece] ?? -1) !== -1

export const bucketAdd = (b: Buckets, piece: number, count: number): void => {
  if (inBuckets(b, piece)) return
  while (b.lists.length <= count) b.lists.push([])
  const list = b.lists[count]
  if (list === undefined) return
  b.pos[piece] = list.length
  list.push(piece)
  b.size++
}

export const bucketRemove = (b: Buckets, piece: number, count: number): void => {
  const at = b.pos[piece] ?? -1
  const list = b.lists[count]
  if (at === -1 || list === undefined) return
  const last = list.pop()
  if (last !== undefined && last !== piece) {
    list[at] = last
    b.pos[last] = at
  }
  b.pos[piece] = -1
  b.size--
}

/** Re-file a bucketed piece whose availability changed; no-op for pieces outside the buckets. */
export const bucketMove = (b: Buckets, piece: number, from: number, to: number): void => {
  if (!inBuckets(b, piece)) return
  bucketRemove(b, piece, from)
  bucketAdd(b, piece, to)
}
