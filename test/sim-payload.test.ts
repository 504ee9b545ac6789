/**
 * The shared payload mode (`ScenarioSpec.payload: "shared"`): blocks that are views of the
 * one shared content are kept by reference and the SHA-1 of each distinct piece content is
 * computed once, yet the client still checks every digest against the metainfo, and a run
 * gives the very trace the fully materialised mode ("bytes") gives.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { sha1 } from "../src/bytes.ts"
import { advanceUntil, inVirtualTime } from "../src/sim/driver.ts"
import { makeImmutableContents, makeSimHasher } from "../src/sim/hashing.ts"
import { payloadOf, runScenario } from "../src/sim/index.ts"
import { makeContent } from "../src/sim/content.ts"
import { allocateShared } from "../src/storage/index.ts"
import { addBlock, isComplete, makeReferencePartial } from "../src/storage/partial.ts"

const KiB = 1024
const MiB = 1024 * KiB

describe("shared payload", () => {
  it("a reference partial keeps views of immutable blocks and copies any other", () => {
    const content = makeContent(64 * KiB, 3)
    const p = makeReferencePartial(32 * KiB, 16 * KiB, (d) => d.buffer === content.buffer)
    const honest = content.subarray(16 * KiB, 32 * KiB)
    const other = new Uint8Array(16 * KiB).fill(7)
    assert.isTrue(addBlock(p, 16 * KiB, honest))
    assert.isTrue(addBlock(p, 0, other))
    assert.isFalse(addBlock(p, 0, other), "a duplicate")
    assert.isTrue(isComplete(p))
    assert.strictEqual(p.blocks?.[1], honest, "kept by reference")
    assert.notStrictEqual(p.blocks?.[0], other, "copied")
    other.fill(0)
    assert.strictEqual(p.blocks?.[0]?.[0], 7, "the copy does not change with the sender's buffer")
  })

  it.effect("the hasher memoises one digest per contiguous run of a registered content, charges the same virtual time, and hashes any other piece for real", () =>
    inVirtualTime(
      Effect.gen(function*() {
        const content = makeContent(512 * KiB, 5)
        const contents = makeImmutableContents()
        contents.add(content)
        const hasher = yield* makeSimHasher(1_000_000, contents)
        const blocks = hasher.blocks
        if (blocks === undefined) return assert.fail("a hasher with contents hashes blocks")
        const timed = (hashing: Effect.Effect<Uint8Array>) =>
          Effect.gen(function*() {
            const start = yield* Clock.currentTimeMillis
            const fiber = yield* Effect.forkChild(hashing)
            yield* advanceUntil({ done: () => fiber.pollUnsafe() !== undefined, deadlineMs: start + 10_000, stepMs: 1 })
            return { digest: yield* Fiber.join(fiber), ms: (yield* Clock.currentTimeMillis) - start }
          })
        const run = (piece: ReadonlyArray<Uint8Array>) => timed(blocks.sha1(piece))
        const piece = content.subarray(256 * KiB, 512 * KiB)
        const views = [piece.subarray(0, 128 * KiB), piece.subarray(128 * KiB)]
        const first = yield* run(views)
        assert.deepStrictEqual(first.digest, sha1(piece))
        const copy = allocateShared(piece.length)
        copy.set(piece)
        const materialised = yield* timed(hasher.sha1(copy))
        assert.deepStrictEqual(materialised.digest, first.digest)
        assert.strictEqual(first.ms, materialised.ms, "the same virtual time as hashing the bytes")
        assert.isAtLeast(first.ms, 262, "256 KiB at 1 MB/s")
        const again = yield* run([piece.subarray(0, 64 * KiB), piece.subarray(64 * KiB)])
        assert.deepStrictEqual(again.digest, sha1(piece))
        assert.strictEqual(contents.computed(), 1, "the same run is hashed once")
        // out of order, or one block from elsewhere: the bytes are hashed as they are
        const swapped = yield* run([views[1] ?? piece, views[0] ?? piece])
        const expected = new Uint8Array(256 * KiB)
        expected.set(piece.subarray(128 * KiB), 0)
        expected.set(piece.subarray(0, 128 * KiB), 128 * KiB)
        assert.deepStrictEqual(swapped.digest, sha1(expected))
        const foreign = new Uint8Array(128 * KiB).fill(1)
        const mixed = yield* run([views[0] ?? piece, foreign])
        expected.set(piece.subarray(0, 128 * KiB), 0)
        expected.set(foreign, 128 * KiB)
        assert.deepStrictEqual(mixed.digest, sha1(expected))
        assert.strictEqual(contents.computed(), 1)
      }).pipe(Effect.scoped),
      { seed: 1 }
    ))

  it("the default is chosen by size", () => {
    const spec = (leechers: number, size: number) => ({ leechers, torrent: { size, pieceLength: 256 * KiB } })
    assert.strictEqual(payloadOf(spec(10, 4 * MiB)), "bytes")
    assert.strictEqual(payloadOf(spec(1000, 64 * MiB)), "shared")
    assert.strictEqual(payloadOf({ ...spec(1000, 64 * MiB), payload: "bytes" }), "bytes")
    assert.strictEqual(payloadOf({ ...spec(1000, 64 * MiB), storage: "memory" }), "bytes", "memory storage keeps real bytes")
  })

  it.effect("both modes give the same trace byte for byte, corrupt peers and bans included", () =>
    Effect.gen(function*() {
      const run = (payload: "bytes" | "shared") =>
        runScenario({ seed: 7, torrent: { size: 4 * MiB, pieceLength: 256 * KiB }, leechers: 12, corruptPeers: 2, payload })
      const bytes = yield* run("bytes")
      const shared = yield* run("shared")
      assert.isTrue(bytes.allComplete)
      assert.isAbove(bytes.hashFailures, 0, "corrupt peers were caught")
      assert.isAbove(bytes.bans, 0)
      assert.strictEqual(shared.trace.join("\n"), bytes.trace.join("\n"))
      assert.strictEqual(shared.hashFailures, bytes.hashFailures)
    }).pipe(Effect.scoped), 120_000)
})
