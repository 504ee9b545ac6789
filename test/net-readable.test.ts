/**
 * The `readable` contract's one home (net/readable.ts), alone: the stop and re-arm rules and
 * the end, which TCP, uTP and the simulator's TCP all go through.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConnectionClosed, makeReadableSlot, type NetError } from "../src/net/index.ts"

const chunks = (...bytes: Array<number>) => {
  const queue = bytes.map((b) => Uint8Array.of(b))
  return () => queue.shift()
}

describe("ReadableSlot", () => {
  it("delivers until the consumer returns false, then nothing until armed again", () => {
    const slot = makeReadableSlot()
    const got: Array<number> = []
    const take = chunks(1, 2, 3, 4)
    slot.arm((c) => got.push(c[0] ?? -1) < 2, () => assert.fail("no end yet"))
    assert.isTrue(slot.deliver(take))
    assert.deepStrictEqual(got, [1, 2])
    assert.isFalse(slot.armed())
    assert.isFalse(slot.deliver(take))
    slot.arm((c) => got.push(c[0] ?? -1) > 0, () => {})
    slot.deliver(take)
    assert.deepStrictEqual(got, [1, 2, 3, 4])
  })

  it("a consumer that re-arms inside its call and returns false stays armed with the new one", () => {
    const slot = makeReadableSlot()
    const got: Array<string> = []
    const take = chunks(1, 2)
    const second = (c: Uint8Array) => got.push(`second ${c[0]}`) > 0
    slot.arm((c) => {
      got.push(`first ${c[0]}`)
      slot.arm(second, () => {})
      return false
    }, () => {})
    slot.deliver(take)
    assert.deepStrictEqual(got, ["first 1", "second 2"])
    assert.isTrue(slot.armed())
  })

  it("the end reaches an armed consumer once, and a stopped one only once it re-arms", () => {
    const slot = makeReadableSlot()
    const ends: Array<NetError> = []
    const error = new ConnectionClosed({ address: "127.0.0.1:1" })
    slot.arm(() => false, (e) => ends.push(e))
    slot.deliver(chunks(1))
    slot.end(error)
    assert.strictEqual(ends.length, 0, "stopped: not told")
    slot.arm(() => true, (e) => ends.push(e))
    slot.end(error)
    slot.end(error)
    assert.deepStrictEqual(ends, [error])
    assert.isFalse(slot.armed())
  })
})
