/**
 * A binary min-heap ordered by `before`: O(log n) push and pop, the least item at `peek`.
 * Ties are not broken here: callers that need a stable order put a sequence number into
 * `before`.
 */
export class MinHeap<T> {
  private readonly items: Array<T> = []
  private readonly before: (a: T, b: T) => boolean
  constructor(before: (a: T, b: T) => boolean) {
    this.before = before
  }
  get size(): number {
    return this.items.length
  }
  peek(): T | undefined {
    return this.items[0]
  }
  push(item: T): void {
    const a = this.items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = a[parent]
      if (p === undefined || !this.before(item, p)) break
      a[i] = p
      i = parent
    }
    a[i] = item
  }
  pop(): T | undefined {
    const a = this.items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    let i = 0
    const n = a.length
    while (true) {
      const l = 2 * i + 1
      if (l >= n) break
      const left = a[l]
      const right = l + 1 < n ? a[l + 1] : undefined
      if (left === undefined) break
      const c = right !== undefined && this.before(right, left) ? l + 1 : l
      const child = c === l ? left : right
      if (child === undefined || !this.before(child, last)) break
      a[i] = child
      i = c
    }
    a[i] = last
    return top
  }
  /** Keeps only the items `keep` accepts (a rebuild: O(n log n)). */
  retain(keep: (item: T) => boolean): void {
    const kept = this.items.filter(keep)
    this.items.length = 0
    for (const item of kept) this.push(item)
  }
}
