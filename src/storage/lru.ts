/**
 * A least-recently-used cache bounded by total weight (bytes). Map iteration order is
 * insertion order, so re-inserting on access keeps the oldest entry first.
 */
export interface Lru<K, V> {
  readonly get: (key: K) => V | undefined
  /** Whether the key is cached, without making it the most recently used. */
  readonly has: (key: K) => boolean
  readonly set: (key: K, value: V, weight: number) => void
  readonly delete: (key: K) => void
  readonly clear: () => void
  readonly weight: () => number
}

/**
 * `onEvict` hears of every value `set` was given once the cache no longer holds it:
 * evicted, replaced by another value, deleted, cleared, or too heavy to keep at all
 * (then during that `set`). The read cache recycles piece buffers through it.
 */
export const makeLru = <K, V>(capacity: number, onEvict?: (key: K, value: V) => void): Lru<K, V> => {
  const entries = new Map<K, { readonly value: V; readonly weight: number }>()
  let total = 0
  const remove = (key: K) => {
    const e = entries.get(key)
    if (e === undefined) return
    entries.delete(key)
    total -= e.weight
    onEvict?.(key, e.value)
  }
  return {
    get: (key) => {
      const e = entries.get(key)
      if (e === undefined) return undefined
      entries.delete(key)
      entries.set(key, e)
      return e.value
    },
    has: (key) => entries.has(key),
    set: (key, value, weight) => {
      const old = entries.get(key)
      if (old !== undefined && old.value === value) {
        entries.delete(key)
        total -= old.weight
      } else remove(key)
      if (weight > capacity) {
        onEvict?.(key, value)
        return
      }
      entries.set(key, { value, weight })
      total += weight
      for (const [k] of entries) {
        if (total <= capacity) break
        remove(k)
      }
    },
    delete: remove,
    clear: () => {
      const all = [...entries]
      entries.clear()
      total = 0
      if (onEvict !== undefined) for (const [k, e] of all) onEvict(k, e.value)
    },
    weight: () => total
  }
}
