/**
 * Memory readings for "does not grow without bound" checks. Garbage is collected first
 * (V8's gc is exposed at run time), so a reading is what is still reachable, not what
 * happens to be uncollected.
 */
import { Effect } from "effect"
import { memoryUsage } from "node:process"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

setFlagsFromString("--expose-gc")
const collected: unknown = runInNewContext("gc")
const gc = typeof collected === "function" ? () => void collected() : () => {}

export interface MemoryReading {
  /** JS heap in use plus ArrayBuffer memory (sockets' and files' buffers live there). */
  readonly bytes: number
  readonly heapUsed: number
  readonly arrayBuffers: number
}

/** Collects garbage, then reads the heap and ArrayBuffer memory. */
export const settledMemory = Effect.sync((): MemoryReading => {
  gc()
  gc()
  const m = memoryUsage()
  return { bytes: m.heapUsed + m.arrayBuffers, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers }
})

export const mib = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
