import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { makeBitfield, PickerConfigError, PiecePicker } from "../src/scheduler/index.ts"

const config = { pieceCount: 64, pieceLength: 32768, totalSize: 64 * 32768 }

describe("PiecePicker service", () => {
  it.effect("rejects a bad config with a typed error", () =>
    Effect.gen(function*() {
      const err = yield* Effect.flip(PiecePicker.make({ pieceCount: 3, pieceLength: 10, totalSize: 5 }))
      assert.instanceOf(err, PickerConfigError)
      assert.include(err.message, "pieceCount")
    }))

  it.effect("picks are reproducible under a seeded Random and differ across seeds", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.gen(function*() {
          const picker = yield* PiecePicker
          yield* picker.addPeer("a", makeBitfield(64, () => true))
          const first = yield* picker.pick("a", 40)
          return first.map((b) => `${b.piece}:${b.begin}`).join(",")
        }).pipe(Effect.provide(PiecePicker.layer(config), { local: true }), Random.withSeed(seed))
      assert.strictEqual(yield* run(1), yield* run(1))
      const distinct = new Set([yield* run(1), yield* run(2), yield* run(3)])
      assert.isAbove(distinct.size, 1)
    }))

  it.effect("drives a download to completion through the service", () =>
    Effect.gen(function*() {
      const picker = yield* PiecePicker.make(config)
      yield* picker.peerHasAll("seed")
      while (!(yield* picker.isComplete)) {
        const blocks = yield* picker.pick("seed", 16)
        assert.isAbove(blocks.length, 0)
        for (const b of blocks) {
          const r = yield* picker.blockReceived("seed", b.piece, b.begin, b.length)
          if (r._tag === "Accepted" && r.pieceComplete) yield* picker.pieceVerified(b.piece)
        }
      }
      assert.strictEqual(yield* picker.remainingWanted, 0)
      assert.isFalse(yield* picker.isInteresting("seed"))
    }))
})
