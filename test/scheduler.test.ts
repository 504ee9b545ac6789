/**
 * The picker as a torrent drives it: a plain synchronous core (no Effect wrapper: a picker
 * call is atomic because it never spans a `yield*`), its tie-breaks drawn from a seeded
 * generator so a seeded run picks the same blocks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { makeBitfield, makePicker } from "../src/scheduler/index.ts"
import { seededRandom } from "../src/torrent/random.ts"

const config = { pieceCount: 64, pieceLength: 32768, totalSize: 64 * 32768 }

const picker = () => {
  const made = makePicker<string>(config)
  if (Result.isFailure(made)) throw new Error(made.failure)
  return made.success
}

describe("picker", () => {
  it("a bad geometry is refused with a reason", () => {
    const made = makePicker<string>({ pieceCount: 3, pieceLength: 10, totalSize: 5 })
    assert.isTrue(Result.isFailure(made))
    if (Result.isFailure(made)) assert.include(made.failure, "pieceCount")
  })

  it("picks are reproducible from a seed and differ across seeds", () => {
    const run = (seed: number) => {
      const p = picker()
      p.addPeer("a", makeBitfield(64, () => true))
      return p.pick("a", 40, seededRandom(seed)).map((b) => `${b.piece}:${b.begin}`).join(",")
    }
    assert.strictEqual(run(1), run(1))
    assert.isAbove(new Set([run(1), run(2), run(3)]).size, 1)
  })

  it("drives a download to completion", () => {
    const p = picker()
    const random = seededRandom(7)
    p.peerHasAll("seed")
    while (!p.isComplete()) {
      const blocks = p.pick("seed", 16, random)
      assert.isAbove(blocks.length, 0)
      for (const b of blocks) {
        const r = p.blockReceived("seed", b.piece, b.begin, b.length)
        if (r._tag === "Accepted" && r.pieceComplete) p.pieceVerified(b.piece)
      }
    }
    assert.strictEqual(p.remainingWanted(), 0)
    assert.isFalse(p.isInteresting("seed"))
    assert.isNull(p.checkInvariants())
  })
})
