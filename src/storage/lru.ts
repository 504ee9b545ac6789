/**
 * A least-recently-used cache bounded by total weight (bytes). Map iteration order is
 * insertion order, so re-inserting on access keeps the oldest entry first.
 */
export interface Lru<K, V> {
  readonly get: (key: K) => V | undefined
  readonly set: (key: K, value: V, weight: number) => void
  readonly delete: (key: K) => void
  readonly clear: () => void
  readonly weight: () => number
}

export const makeLru = <K, V>(capacity: number): Lru<K, V> => {
  const entries = new Map<K, { readonly value: V; readonly weight: number }>()
  let total = 0
  const remove = (key: K) => {
    const e = entries.get(key)
    if (e === undefined) return
    entries.delete(key)
    total -= e.weight
  }
  return {
    get: (key) => {
      const e = entries.get(key)
      if (e === undefined) return undefined
      entries.delete(key)
      entries.set(key, e)
      return e.value
    },
    set: (key, value, weight) => {
      remove(key)
      if (weight > capacity) return
      entries.set(key, { value, weight })
      total += weight
      for (const [k] of entries) {
        if (total <= capacity) break
        remove(k)
      }
    },
    delete: remove,
    clear: () => {
      entries.clear()
      total = 0
    },
    weight: () => total
  }
}
