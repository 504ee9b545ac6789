import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { BLOCK_SIZE, makeBitfield, makePicker, type Picker } from "../src/scheduler/index.ts"

const picker = (pieceCount: number, maxOpenPieces = 64): Picker<string> => {
  const made = makePicker<string>({ pieceCount, pieceLength: 4 * BLOCK_SIZE, totalSize: pieceCount * 4 * BLOCK_SIZE, maxOpenPieces })
  if (Result.isFailure(made)) throw new Error(made.failure)
  return made.success
}
const all = (count: number) => makeBitfield(count, () => true)
const random = () => 0.5

describe("picker focus (a stream reader's window)", () => {
  it("opens focus pieces first, in focus order, then falls back to rarest-first", () => {
    const p = picker(32)
    p.addPeer("a", all(32))
    p.setFocus([20, 21, 22])
    const blocks = p.pick("a", 16, random)
    assert.deepStrictEqual([...new Set(blocks.map((b) => b.piece))].slice(0, 3), [20, 21, 22])
    // the fourth piece comes from the ordinary order: not part of the focus
    assert.notInclude([20, 21, 22], blocks[12]?.piece)
    assert.strictEqual(p.checkInvariants(), null)
  })

  it("finishes an open focus piece before other open pieces", () => {
    const p = picker(32)
    for (const k of ["a", "b", "c", "d"]) p.addPeer(k, all(32))
    p.setFocus([5])
    const five = p.pick("a", 4, random)
    const got = five[0]
    if (got === undefined) throw new Error("nothing picked")
    p.blockReceived("a", got.piece, got.begin, got.length)
    for (const b of five.slice(1)) p.requestTimedOut("a", b)
    p.setFocus([9])
    assert.deepStrictEqual(p.pick("b", 2, random).map((b) => b.piece), [9, 9])
    // pieces 5 (3 blocks missing) and 9 (2 missing) are open: 9 is in focus
    assert.strictEqual(p.pick("c", 1, random)[0]?.piece, 9)
    p.setFocus([])
    assert.strictEqual(p.pick("d", 1, random)[0]?.piece, 5)
    assert.strictEqual(p.checkInvariants(), null)
  })

  it("skips focus pieces the peer lacks, already verified or out of range", () => {
    const p = picker(8)
    p.addPeer("a", makeBitfield(8, (i) => i !== 3))
    for (let begin = 0; begin < 4 * BLOCK_SIZE; begin += BLOCK_SIZE) {
      p.pick("a", 0, random)
    }
    p.setFocus([3, 99, -1, 5])
    const blocks = p.pick("a", 4, random)
    assert.isTrue(blocks.every((b) => b.piece === 5))
    assert.strictEqual(p.checkInvariants(), null)
  })
})
