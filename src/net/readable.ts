/**
 * The `readable` side of a `Connection` (Network.ts), once for every transport: real TCP,
 * uTP and the simulator's TCP. It holds the armed consumer and applies the contract's
 * rules; the transport says where chunks come from (`deliver`'s `take`) and when the
 * stream has ended (`end`).
 *
 * - A consumer gets chunks until it returns false; then nothing until `arm` again.
 * - A consumer may re-arm (call `readable`) inside its own call: returning false after
 *   that does not disarm the new consumer (the arm count tells the two apart).
 * - `onEnd` is told the end once, and only while a consumer is armed: one that stopped
 *   hears of it when it re-arms and the transport delivers again.
 *
 * Synchronous and outside any fiber: it runs in socket events and on the hot path of
 * every chunk.
 */
import type { NetError } from "./errors.ts"

export interface ReadableSlot {
  /** `Connection.readable`: `consumer` takes chunks from now on, `onEnd` hears of the end. */
  readonly arm: (consumer: (chunk: Uint8Array) => boolean, onEnd: (error: NetError) => void) => void
  /** No consumer any more (an abandoned one-chunk read): chunks wait for the next `arm`. */
  readonly disarm: () => void
  /** A consumer is armed. */
  readonly armed: () => boolean
  /** Hands chunks from `take` to the consumer until it stops or `take` has none; true if it handed any. */
  readonly deliver: (take: () => Uint8Array | undefined) => boolean
  /** The stream ended with `error` and every chunk went out: an armed consumer's `onEnd` hears it. */
  readonly end: (error: NetError) => void
}

export const makeReadableSlot = (): ReadableSlot => {
  let consumer: ((chunk: Uint8Array) => boolean) | undefined
  let onEnd: ((error: NetError) => void) | undefined
  let arms = 0
  return {
    arm: (c, e) => {
      consumer = c
      onEnd = e
      arms++
    },
    disarm: () => {
      consumer = undefined
      onEnd = undefined
    },
    armed: () => consumer !== undefined,
    deliver: (take) => {
      let took = false
      while (consumer !== undefined) {
        const chunk = take()
        if (chunk === undefined) break
        took = true
        const token = ++arms
        // the consumer may stop, and may re-arm (`readable`) before it returns
        if (!consumer(chunk) && arms === token) consumer = undefined
      }
      return took
    },
    end: (error) => {
      if (consumer === undefined) return
      const report = onEnd
      consumer = undefined
      onEnd = undefined
      report?.(error)
    }
  }
}
