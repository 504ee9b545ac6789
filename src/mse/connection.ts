/**
 * The stream after an MSE handshake, as a `Connection` wrapping the one it ran on (TCP,
 * uTP, a simulated link): a peer session reads and writes it without knowing.
 *
 * **Details**
 *
 * - Receiving: each chunk the inner connection delivers is decrypted in place, once, as
 *   it passes through (the chunk is ours: nothing else holds a received chunk). The bytes
 *   that came with the handshake (`initial`: the peer's IA and anything after it) are
 *   delivered first.
 * - Sending: the keystream must meet the bytes in wire order, so every write, whatever its
 *   form, is encrypted and handed to the inner `offer` in one synchronous step (an
 *   effectful write could be overtaken by another between encrypting and sending). A
 *   write's chunks are encrypted into one new buffer: the caller's bytes may be the
 *   storage's own copy of a block and must stay untouched. `write` and `writeV` then wait
 *   for `drained`, which is when the inner connection's send buffer has room again.
 * - With plaintext selected only `initial` is special; everything else passes through.
 */
import { Effect } from "effect"
import type { Connection, NetError } from "../net/index.ts"
import type { MseOutcome } from "./machine.ts"
import type { Rc4 } from "./rc4.ts"

const encryptAll = (cipher: Rc4, chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) {
    const only = chunks[0] as Uint8Array
    const out = Buffer.allocUnsafe(only.length)
    cipher.applyTo(only, out, 0)
    return out
  }
  let total = 0
  for (const c of chunks) total += c.length
  const out = Buffer.allocUnsafe(total)
  let at = 0
  for (const c of chunks) {
    cipher.applyTo(c, out, at)
    at += c.length
  }
  return out
}

export const encryptedConnection = (inner: Connection, outcome: Pick<MseOutcome, "encrypt" | "decrypt" | "initial">): Connection => {
  let initial: Uint8Array | undefined = outcome.initial.length > 0 ? outcome.initial : undefined
  const { encrypt, decrypt } = outcome

  const read: Effect.Effect<Uint8Array, NetError> = Effect.suspend(() => {
    if (initial !== undefined) {
      const first = initial
      initial = undefined
      return Effect.succeed(first)
    }
    if (decrypt === null) return inner.read
    return Effect.map(inner.read, (chunk) => {
      decrypt.apply(chunk)
      return chunk
    })
  })

  // decrypted in place: a borrowed chunk is the inner connection's read buffer, read once
  const readable = (consumer: (chunk: Uint8Array, lent?: boolean) => boolean, onEnd: (error: NetError) => void, borrows?: boolean): void => {
    if (initial !== undefined) {
      const first = initial
      initial = undefined
      // a consumer that stops here re-arms later, and the rest waits in the inner connection
      if (!consumer(first)) return
    }
    if (decrypt === null) return inner.readable(consumer, onEnd, borrows)
    inner.readable((chunk, lent) => {
      decrypt.apply(chunk)
      return consumer(chunk, lent)
    }, onEnd, borrows)
  }

  // what either form takes from the inner connection or from the reading side above
  const common = {
    remote: inner.remote,
    local: inner.local,
    ...(inner.transport === undefined ? {} : { transport: inner.transport }),
    read,
    readable,
    drained: inner.drained,
    close: inner.close
  }
  // called on `inner`, not detached: a connection may keep its methods on a prototype
  if (encrypt === null) {
    return {
      ...common,
      write: (bytes) => inner.write(bytes),
      writeV: (chunks) => inner.writeV(chunks),
      offer: (chunks, written) => inner.offer(chunks, written)
    }
  }

  // the chunks are copied as they are encrypted: the caller may reuse them at once
  const offer = (chunks: ReadonlyArray<Uint8Array>, written?: () => void): boolean => {
    const accepted = chunks.length === 0 ? inner.offer(chunks) : inner.offer([encryptAll(encrypt, chunks)])
    written?.()
    return accepted
  }
  // `offer` false means "full" (wait for `drained`) or "closed" (`drained` fails): either way `drained` says.
  const writeV = (chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, NetError> =>
    Effect.suspend(() => (offer(chunks) ? Effect.void : inner.drained))
  return { ...common, write: (bytes) => writeV([bytes]), writeV, offer }
}
