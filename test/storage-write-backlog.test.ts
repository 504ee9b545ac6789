/**
 * A disk slower than the network does not fill memory (issue 15, growth): once 8 MiB of
 * complete pieces wait for their write, `writeBacklogged` says so (the session then stores
 * its next piece in its own step and its reader waits), and it clears as the writes finish.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { PieceIndex } from "../src/ids.ts"
import { openWith } from "../src/storage/service.ts"
import { blocksOf, makeFixture, stubBackend } from "./storage-helpers.ts"

const MiB = 1 << 20
const B = 16 * 1024

describe("storage: write backlog", () => {
  it.effect("is reported while 8 MiB of complete pieces wait for a stalled disk, and clears once they are written", () =>
    Effect.gen(function*() {
      const disk = yield* Deferred.make<void>()
      let written = 0
      const backend = stubBackend({
        writePiece: () => Effect.andThen(Deferred.await(disk), Effect.sync(() => void written++)),
        readPiece: () => Effect.succeed(null)
      })
      const fixture = makeFixture([{ path: ["f.bin"], length: 9 * MiB }], MiB, 3)
      const storage = yield* openWith(() => Effect.succeed(backend))(fixture.meta, { directory: "/write-backlog" })
      const blocks = blocksOf(fixture, B)
      const writes: Array<Fiber.Fiber<unknown, unknown>> = []
      for (let piece = 0; piece < 8; piece++) {
        assert.isFalse(storage.writeBacklogged(), `${piece} pieces waiting`)
        const own = blocks.filter((b) => b.piece === piece)
        for (const b of own.slice(0, -1)) storage.putBlockSync(PieceIndex(piece), b.begin, b.data)
        const last = own.at(-1)
        if (last === undefined) return assert.fail("blocks")
        writes.push(yield* Effect.forkChild(storage.putBlock(PieceIndex(piece), last.begin, last.data)))
        yield* Effect.yieldNow
      }
      assert.isTrue(storage.writeBacklogged(), "8 pieces of 1 MiB wait for the disk")
      yield* Deferred.succeed(disk, undefined)
      for (const w of writes) yield* Fiber.join(w)
      assert.strictEqual(written, 8)
      assert.isFalse(storage.writeBacklogged())
    }).pipe(Effect.scoped))
})
