/**
 * What the two MSE handshake machines (initiator.ts, responder.ts) share: the crypto
 * method bits, the limits the spec puts on pads and scans, the step type, the input
 * buffer, the loop that runs their phases, and the key exchange of steps 1 and 2. The machines are pure: bytes in, bytes to send and a new state out; the caller
 * (driver.ts) does the I/O and the time-outs.
 */
import * as Dh from "./dh.ts"
import { MseError } from "./errors.ts"
import type { Rc4 } from "./rc4.ts"

/** crypto_provide / crypto_select bits. Other bits are ignored. */
export const CRYPTO_PLAINTEXT = 0x01
export const CRYPTO_RC4 = 0x02
/** PadA, PadB, PadC and PadD are 0..512 bytes. */
export const MAX_PAD = 512
/** Verification constant: 8 zero bytes. */
export const VC_LENGTH = 8

export type Method = "rc4" | "plaintext"

/** A finished handshake: how the stream continues. */
export interface MseOutcome {
  readonly method: Method
  /** The stream key (info-hash) both sides used. */
  readonly skey: Uint8Array
  /** Our sending cipher, positioned after the handshake; null once plaintext was selected. */
  readonly encrypt: Rc4 | null
  /** The receiving cipher, positioned after the handshake; null once plaintext was selected. */
  readonly decrypt: Rc4 | null
  /**
   * Stream bytes that came with the handshake, already decrypted: the initiator's IA (on
   * the responder's side), then whatever followed. Usually the peer's BitTorrent handshake.
   */
  readonly initial: Uint8Array
}

export type MseStep =
  | { readonly _tag: "Continue"; readonly send: ReadonlyArray<Uint8Array> }
  | { readonly _tag: "Done"; readonly send: ReadonlyArray<Uint8Array>; readonly outcome: MseOutcome }
  | { readonly _tag: "Failed"; readonly error: MseError }

export interface MseMachine {
  /** What the machine waits for (for logs and time-out messages). */
  readonly phase: () => string
  /**
   * Feeds received bytes. The machine may decrypt `chunk` in place: the caller hands it
   * over. After `Done` or `Failed` it takes nothing more.
   */
  readonly receive: (chunk: Uint8Array) => MseStep
}

const EMPTY = new Uint8Array(0)

/**
 * Received bytes not consumed yet, contiguous. A handshake is a few hundred bytes (IA at
 * most 64 KiB), so joining chunks costs little; the common single-chunk case is a view.
 */
export class Inbox {
  private bytes: Uint8Array = EMPTY

  get length(): number {
    return this.bytes.length
  }

  push(chunk: Uint8Array): void {
    if (this.bytes.length === 0) {
      this.bytes = chunk
      return
    }
    const joined = new Uint8Array(this.bytes.length + chunk.length)
    joined.set(this.bytes)
    joined.set(chunk, this.bytes.length)
    this.bytes = joined
  }

  /** The first `n` bytes (a view, which the caller may decrypt in place), consumed. */
  take(n: number): Uint8Array {
    const out = this.bytes.subarray(0, n)
    this.bytes = this.bytes.subarray(n)
    return out
  }

  /**
   * The first `n` bytes decrypted in place with `cipher`, consumed; undefined until `n`
   * bytes are in (or while there is no cipher yet: the phase that makes it comes first).
   */
  takeDecrypted(n: number, cipher: Rc4 | undefined): Uint8Array | undefined {
    if (this.bytes.length < n || cipher === undefined) return undefined
    const out = this.take(n)
    cipher.apply(out)
    return out
  }

  /** Everything left, consumed. */
  rest(): Uint8Array {
    return this.take(this.bytes.length)
  }

  /**
   * Finds `pattern` starting at offset 0..`maxOffset`; consumes up to and including it.
   * Returns "found", "missing" (cannot be there any more) or "wait" (more bytes needed).
   */
  scan(pattern: Uint8Array, maxOffset: number): "found" | "missing" | "wait" {
    const view = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, Math.min(this.bytes.length, maxOffset + pattern.length))
    const at = view.indexOf(pattern)
    if (at >= 0) {
      this.take(at + pattern.length)
      return "found"
    }
    return this.bytes.length >= maxOffset + pattern.length ? "missing" : "wait"
  }
}

export const NEED_MORE: MseStep = { _tag: "Continue", send: [] }

export const mseError = (reason: MseError["reason"], detail: string): MseError => new MseError({ reason, detail })

/**
 * What one phase did with the bytes in the inbox: moved on to the next phase ("next": run
 * again), needs more bytes ("wait"), finished the handshake, or failed it.
 */
export type PhaseResult = "next" | "wait" | MseOutcome | MseError

/**
 * The `MseMachine` around `runPhase`, which consumes what the current phase needs from
 * `inbox` and appends what to send to `send`. Phases run while they move on, so one chunk
 * may carry several steps. A failure sticks (what the failing call would have sent is
 * dropped: the connection closes), and after the outcome the machine takes nothing more.
 */
export const makeMachine = (
  inbox: Inbox,
  runPhase: (send: Array<Uint8Array>) => PhaseResult,
  phase: () => string
): MseMachine => {
  let last: MseStep | undefined
  const advance = (): MseStep => {
    const send: Array<Uint8Array> = []
    while (true) {
      const result = runPhase(send)
      if (result === "next") continue
      if (result === "wait") return { _tag: "Continue", send }
      if (result instanceof MseError) return { _tag: "Failed", error: result }
      return { _tag: "Done", send, outcome: result }
    }
  }
  return {
    phase,
    receive: (chunk) => {
      if (last !== undefined) return last._tag === "Failed" ? last : NEED_MORE
      inbox.push(chunk)
      const step = advance()
      if (step._tag !== "Continue") last = step
      return step
    }
  }
}

/**
 * The scans of steps 3 and 4: skips past `pattern`, which the peer sends after at most
 * `MAX_PAD` bytes of padding; fails with `missing` once it cannot be there any more.
 */
export const syncTo = (inbox: Inbox, pattern: Uint8Array, missing: string): "next" | "wait" | MseError => {
  const found = inbox.scan(pattern, MAX_PAD)
  return found === "found" ? "next" : found === "wait" ? "wait" : mseError("SyncNotFound", missing)
}

/** Steps 1 and 2, the sending half: our public key (Ya or Yb), then our pad. */
export const keyMessage = (privateKey: Uint8Array, pad: Uint8Array): Uint8Array => {
  const out = new Uint8Array(Dh.KEY_LENGTH + pad.length)
  out.set(Dh.publicKey(privateKey))
  out.set(pad, Dh.KEY_LENGTH)
  return out
}

/** Steps 1 and 2, the receiving half: S from the peer's public key once its 96 bytes are in. */
export const receiveSecret = (inbox: Inbox, privateKey: Uint8Array): Uint8Array | "wait" | MseError => {
  if (inbox.length < Dh.KEY_LENGTH) return "wait"
  return Dh.sharedSecret(privateKey, inbox.take(Dh.KEY_LENGTH)) ?? mseError("BadKey", "the peer's public key is out of range")
}

/** A DataView over `b` (big-endian reads and writes of the handshake's length fields). */
export const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)
