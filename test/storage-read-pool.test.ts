/**
 * The read cache's pooled piece buffers (src/storage/reads.ts): a buffer is reused for
 * another piece only once nothing can still look at it, and then it is reused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fc from "fast-check"
import * as Have from "../src/storage/have.ts"
import { makeLayout } from "../src/storage/layout.ts"
import { makePieceReads } from "../src/storage/reads.ts"
import { makeFixture, pieceData, stubBackend } from "./storage-helpers.ts"

const PIECE = 65536

/** 6 full pieces, all verified; disk reads go into the buffer the cache gives. */
const setup = (cachePieces: number, readGate?: Deferred.Deferred<void>) => {
  const fixture = makeFixture([{ path: ["a"], length: 6 * PIECE }], PIECE, 7)
  const result = makeLayout(fixture.meta, 1 << 26)
  if (result._tag !== "Ok") throw new Error(result.message)
  const layout = result.layout
  const have = Have.makeHaveSet(layout, undefined)
  for (let p = 0; p < 6; p++) Have.mark(have, p, true)
  const buffers = new Set<ArrayBufferLike>()
  let backendReads = 0
  const backend = stubBackend({
    writePiece: () => Effect.void,
    readPiece: (piece) => Effect.sync(() => Uint8Array.from(pieceData(fixture, piece))),
    readPieceInto: (piece, into) =>
      Effect.andThen(
        readGate === undefined ? Effect.void : Deferred.await(readGate),
        Effect.sync(() => {
          backendReads++
          buffers.add(into.buffer)
          into.set(pieceData(fixture, piece))
          return into
        })
      )
  })
  return { fixture, reads: makePieceReads(backend, have, cachePieces * PIECE), buffers, backendReads: () => backendReads }
}

describe("storage: pooled read buffers", () => {
  it.effect("a lent buffer is reused only after its release and the cache dropped it; a read one never", () =>
    Effect.gen(function*() {
      const { fixture, reads, buffers } = setup(1)
      const v0 = yield* reads.lend(0, 0, 16)
      const v1 = yield* reads.lend(1, 0, 16) // evicts piece 0, still lent
      assert.notStrictEqual(v1.buffer, v0.buffer)
      reads.release(v0)
      const v2 = yield* reads.lend(2, 0, 16) // piece 0's buffer is free again
      assert.strictEqual(v2.buffer, v0.buffer)
      assert.deepStrictEqual(v2, pieceData(fixture, 2).subarray(0, 16))
      assert.deepStrictEqual(v1, pieceData(fixture, 1).subarray(0, 16), "a lent view is untouched")
      const r2 = yield* reads.read(2, 16, 16) // pins piece 2's buffer: its holder never says when it is done
      reads.release(v2)
      reads.release(v1)
      const v3 = yield* reads.lend(3, 0, 16) // takes piece 1's free buffer; piece 2's is pinned
      assert.strictEqual(v3.buffer, v1.buffer)
      const v4 = yield* reads.lend(4, 0, 16)
      assert.notStrictEqual(v4.buffer, r2.buffer)
      assert.deepStrictEqual(r2, pieceData(fixture, 2).subarray(16, 32))
      assert.strictEqual(buffers.size, 3, "six lends, three buffers")
    }))

  it.effect("a lend of a piece being prefetched waits for that read instead of reading again", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { fixture, reads, backendReads } = setup(2, gate)
      const prefetch = reads.prefetch(1)
      assert.isDefined(prefetch)
      if (prefetch === undefined) return
      const reading = yield* Effect.forkChild(prefetch)
      yield* Effect.yieldNow
      assert.isUndefined(reads.prefetch(1), "a piece being read needs no second read")
      const lending = yield* Effect.forkChild(reads.lend(1, 16, 16))
      yield* Effect.yieldNow
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(reading)
      const view = yield* Fiber.join(lending)
      assert.deepStrictEqual(view, pieceData(fixture, 1).subarray(16, 32))
      assert.strictEqual(backendReads(), 1)
      assert.isUndefined(reads.prefetch(1), "a cached piece needs no read")
      assert.isDefined(reads.lendSync(1, 0, 16), "the prefetched piece is served from the cache")
    }))

  it.effect("views still held always show their piece's bytes (random lends, reads, prefetches and releases)", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.tuple(fc.constantFrom("lend", "lendSync", "read", "prefetch", "release"), fc.nat(5), fc.nat(100)), { maxLength: 60 }),
        async (cachePieces, ops) => {
          const { fixture, reads } = setup(cachePieces)
          const held: Array<{ readonly piece: number; readonly view: Uint8Array; readonly lent: boolean }> = []
          for (const [op, piece, pick] of ops) {
            if (op === "release") {
              const lent = held.filter((h) => h.lent)
              const victim = lent[pick % Math.max(1, lent.length)]
              if (victim === undefined) continue
              held.splice(held.indexOf(victim), 1)
              reads.release(victim.view)
            } else if (op === "prefetch") {
              const read = reads.prefetch(piece)
              if (read !== undefined) await Effect.runPromise(read)
            } else {
              const view = op === "lendSync"
                ? reads.lendSync(piece, 0, PIECE)
                : await Effect.runPromise(op === "lend" ? reads.lend(piece, 0, PIECE) : reads.read(piece, 0, PIECE))
              if (view !== undefined) held.push({ piece, view, lent: op !== "read" })
            }
            for (const h of held) {
              if (!Buffer.from(h.view).equals(Buffer.from(pieceData(fixture, h.piece)))) return false
            }
          }
          return true
        }
      ), { numRuns: 200 })
    ))
})
