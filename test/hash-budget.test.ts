/**
 * The per-peer bound on BEP 52 hash answers (src/peer/hash-budget.ts), in virtual time:
 * - whatever a peer sends and whenever, what we answer up to any moment is within the
 *   buckets' burst plus their refill since the first request (requests, and leaf blocks);
 * - a peer asking at the refill rate is never refused, and a full burst passes at once;
 * - a leaf answer's cost is its blocks of 16 KiB, a short last block counted whole.
 * Through a session, a peer over its budget gets a hash reject: test/hostile-hash-requests.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { HASH_REQUESTS, LEAF_BLOCKS, makeHashBudget } from "../src/peer/hash-budget.ts"
import { leafBlocks } from "../src/torrent/hash-answers.ts"

/** Milliseconds for one token to come back. */
const refill = (bucket: { readonly limit: number; readonly window: Duration.Input }) =>
  Duration.toMillis(Duration.fromInputUnsafe(bucket.window)) / bucket.limit

const step = fc.record({
  gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 20_000 })),
  blocks: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 512 }))
})

describe("hash request budget", () => {
  it("counts a leaf answer in 16 KiB blocks", () => {
    assert.strictEqual(leafBlocks([]), 0)
    assert.strictEqual(leafBlocks([{ piece: 0, length: 32 * 1024 }, { piece: 1, length: 32 * 1024 }]), 4)
    assert.strictEqual(leafBlocks([{ piece: 7, length: 16 * 1024 + 1 }]), 2, "a short last block is read and hashed too")
  })

  it("never lets a peer past its burst plus the refill since it began, whatever it sends", async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 400 }), (steps) =>
      Effect.runPromise(Effect.gen(function*() {
        const budget = yield* makeHashBudget
        let elapsed = 0
        let requests = 0
        let blocks = 0
        for (const { gap, blocks: asked } of steps) {
          if (gap > 0) yield* TestClock.adjust(Duration.millis(gap))
          elapsed += gap
          // as a session spends: the request first, then (for a leaf answer we would read) its blocks
          if (!(yield* budget.request)) continue
          requests++
          if (asked > 0 && (yield* budget.leaves(asked))) blocks += asked
          assert.isAtMost(requests, HASH_REQUESTS.limit + Math.floor(elapsed / refill(HASH_REQUESTS)))
          assert.isAtMost(blocks, LEAF_BLOCKS.limit + Math.floor(elapsed / refill(LEAF_BLOCKS)))
        }
      }).pipe(Effect.provide(TestClock.layer())))), { numRuns: 60 })
  })

  it.effect("a full burst passes at once, one more is refused, and a peer at the refill rate is never refused", () =>
    Effect.gen(function*() {
      const budget = yield* makeHashBudget
      for (let i = 0; i < HASH_REQUESTS.limit; i++) assert.isTrue(yield* budget.request, `request ${i} of the burst`)
      assert.isFalse(yield* budget.request, "one past the burst")
      assert.isTrue(yield* budget.leaves(512))
      assert.isTrue(yield* budget.leaves(512))
      assert.isFalse(yield* budget.leaves(1), "16 MiB read back at once is the most")
      for (let i = 0; i < 1000; i++) {
        yield* TestClock.adjust(Duration.millis(refill(HASH_REQUESTS)))
        assert.isTrue(yield* budget.request, `request ${i} at the refill rate`)
      }
      for (let i = 0; i < 100; i++) {
        yield* TestClock.adjust(Duration.millis(refill(LEAF_BLOCKS) * 512))
        assert.isTrue(yield* budget.leaves(512), `leaf answer ${i} at the refill rate`)
      }
    }))
})
