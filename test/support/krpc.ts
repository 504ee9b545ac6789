/** KRPC test helpers: decode a message that must be valid, or one that must be refused. */
import { Result } from "effect"
import { Krpc } from "../../src/dht/index.ts"

/** A 20-byte node id filled with `b`. */
export const id = (b: number) => new Uint8Array(20).fill(b)
/** A transaction id. */
export const t = Uint8Array.of(0xab, 0xcd)

export const ok = (bytes: Uint8Array): Krpc.KrpcMessage => {
  const r = Krpc.decodeMessage(bytes)
  if (Result.isFailure(r)) throw new Error(`expected success, got ${r.failure.reason}: ${r.failure.message}`)
  return r.success
}

export const bad = (bytes: Uint8Array) => {
  const r = Krpc.decodeMessage(bytes)
  if (Result.isSuccess(r)) throw new Error("expected a decode failure")
  return r.failure
}
