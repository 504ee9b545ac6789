/** The hash-failure ledger (src/torrent/blame.ts): examples and properties. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { isConvicted, makeBlame, pieceFailed } from "../src/torrent/blame.ts"

const failed = (blame: ReturnType<typeof makeBlame>, ...peers: Array<string>) => pieceFailed(blame, new Set(peers))

describe("blame: examples", () => {
  it("a piece from one peer alone convicts it, once", () => {
    const blame = makeBlame(3)
    assert.deepStrictEqual(failed(blame, "liar"), ["liar"])
    assert.deepStrictEqual(failed(blame, "liar"), [])
    assert.isTrue(isConvicted(blame, "liar"))
  })

  it("shared failures give strikes; maxStrikes convict", () => {
    const blame = makeBlame(3)
    assert.deepStrictEqual(failed(blame, "a", "b"), [])
    assert.deepStrictEqual(failed(blame, "a", "c"), [])
    assert.deepStrictEqual(failed(blame, "a", "d"), ["a"])
    assert.isFalse(isConvicted(blame, "b"))
  })

  it("an honest seed that shared failed pieces with a liar goes free once the liar is convicted", () => {
    // what a simulated swarm showed: the seed and a corrupt peer fill the same pieces
    const blame = makeBlame(3)
    failed(blame, "seed", "liar")
    failed(blame, "seed", "liar")
    assert.strictEqual(blame.strikes.get("seed"), 2)
    assert.deepStrictEqual(failed(blame, "liar"), ["liar"])
    assert.strictEqual(blame.strikes.get("seed"), 0, "its strikes were taken back")
    // blocks the liar sent before its ban fail more pieces: still its fault alone
    assert.deepStrictEqual(failed(blame, "seed", "liar"), [])
    assert.deepStrictEqual(failed(blame, "seed", "liar"), [])
    assert.isFalse(isConvicted(blame, "seed"))
    assert.strictEqual(blame.strikes.get("seed"), 0)
  })

  it("of two peers reaching the limit at once, the one with more strikes goes first and clears the other", () => {
    const blame = makeBlame(3)
    failed(blame, "liar", "x")
    failed(blame, "liar", "y")
    failed(blame, "liar", "honest")
    failed(blame, "honest", "z")
    // liar 3 → convicted; honest had 2, one of them shared with the liar
    assert.isTrue(isConvicted(blame, "liar"))
    assert.deepStrictEqual(failed(blame, "honest", "w"), [])
    assert.isFalse(isConvicted(blame, "honest"))
  })

  it("peers that failed exactly together every time cannot be told apart: both are convicted", () => {
    const blame = makeBlame(2)
    failed(blame, "a", "b")
    assert.deepStrictEqual([...failed(blame, "a", "b")].sort(), ["a", "b"])
  })

  it("the ledger of shared failures is bounded", () => {
    const blame = makeBlame(1_000_000, 16)
    for (let i = 0; i < 100; i++) failed(blame, `p${i}`, `q${i}`)
    assert.strictEqual(blame.shared.length, 16)
  })
})

describe("blame: properties", () => {
  const honest = ["h0", "h1", "h2", "h3", "h4"]
  // Every failed piece has the liar among its senders (honest peers never send bad data).
  const failures = fc.array(
    fc.oneof(
      fc.constant<ReadonlyArray<string>>([]),
      fc.subarray(honest, { minLength: 1 })
    ).map((others) => ["liar", ...others]),
    { maxLength: 60 }
  )

  it("an honest peer is convicted only if it was in every failure the liar was in until then", () => {
    fc.assert(
      fc.property(failures, fc.integer({ min: 1, max: 5 }), (seq, maxStrikes) => {
        const blame = makeBlame(maxStrikes)
        const seen: Array<ReadonlyArray<string>> = []
        for (const senders of seq) {
          seen.push(senders)
          const convicted = pieceFailed(blame, new Set(senders))
          for (const peer of convicted) {
            if (peer === "liar") continue
            assert.isTrue(seen.every((s) => s.includes(peer)), `${peer} convicted after ${JSON.stringify(seen)}`)
          }
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("nobody is convicted twice, and strikes are never negative", () => {
    const anyFailures = fc.array(fc.subarray(["a", "b", "c", "d"], { minLength: 1 }), { maxLength: 60 })
    fc.assert(
      fc.property(anyFailures, fc.integer({ min: 1, max: 4 }), (seq, maxStrikes) => {
        const blame = makeBlame(maxStrikes)
        const all: Array<string> = []
        for (const senders of seq) {
          all.push(...pieceFailed(blame, new Set(senders)))
          for (const count of blame.strikes.values()) assert.isAtLeast(count, 0)
        }
        assert.strictEqual(new Set(all).size, all.length)
      }),
      { numRuns: 1000 }
    )
  })
})
