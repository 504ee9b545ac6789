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
  arm(consumer: (chunk: Uint8Array, lent?: boolean) => boolean, onEnd: (error: NetError) => void, borrows?: boolean): void
  /** No consumer any more (an abandoned one-chunk read): chunks wait for the next `arm`. */
  disarm(): void
  /** A consumer is armed. */
  armed(): boolean
  /** Hands chunks from `take` to the consumer until it stops or `take` has none; true if it handed any. */
  deliver(take: () => Uint8Array | undefined): boolean
  /**
   * Hands the consumer a chunk of a buffer the transport reuses: itself if the consumer
   * borrows, else a copy. True while a consumer is armed afterwards (read on).
   */
  lend(chunk: Uint8Array): boolean
  /** The stream ended with `error` and every chunk went out: an armed consumer's `onEnd` hears it. */
  end(error: NetError): void
}

/**
 * A class, not closures: every connection has one, and methods on the prototype cost a
 * connection nothing where five closures and their context cost about 0.3 KiB (issue 15).
 * Call its methods on the slot (`slot.disarm()`), never detached.
 */
class Slot implements ReadableSlot {
  private consumer: ((chunk: Uint8Array, lent?: boolean) => boolean) | undefined = undefined
  private onEnd: ((error: NetError) => void) | undefined = undefined
  private arms = 0
  private borrows = false

  arm(c: (chunk: Uint8Array, lent?: boolean) => boolean, e: (error: NetError) => void, borrows = false): void {
    this.consumer = c
    this.onEnd = e
    this.borrows = borrows
    this.arms++
  }

  lend(chunk: Uint8Array): boolean {
    const consumer = this.consumer
    if (consumer === undefined) return false
    const token = ++this.arms
    // a borrowing consumer is told the chunk is lent (its second argument)
    const took = this.borrows ? consumer(chunk, true) : consumer(chunk.slice())
    if (!took && this.arms === token) this.consumer = undefined
    return this.consumer !== undefined
  }

  disarm(): void {
    this.consumer = undefined
    this.onEnd = undefined
  }

  armed(): boolean {
    return this.consumer !== undefined
  }

  deliver(take: () => Uint8Array | undefined): boolean {
    let took = false
    while (this.consumer !== undefined) {
      const chunk = take()
      if (chunk === undefined) break
      took = true
      const token = ++this.arms
      const consumer = this.consumer
      // the consumer may stop, and may re-arm (`readable`) before it returns
      if (!consumer(chunk) && this.arms === token) this.consumer = undefined
    }
    return took
  }

  end(error: NetError): void {
    if (this.consumer === undefined) return
    const report = this.onEnd
    this.consumer = undefined
    this.onEnd = undefined
    report?.(error)
  }
}

export const makeReadableSlot = (): ReadableSlot => new Slot()
