/** The smart-ban ledger (src/torrent/smart-ban.ts): examples and properties. */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { makeSmartBan, pieceFailed, pieceVerified, SMART_BAN_BLOCK, suspectSize } from "../src/torrent/smart-ban.ts"

const B = SMART_BAN_BLOCK

/** A piece of `blocks` blocks (the last `tail` bytes short), byte i = (i * 7 + seed) mod 251. */
const pieceOf = (blocks: number, seed = 0, tail = 0) => {
  const out = new Uint8Array(blocks * B - tail)
  for (let i = 0; i < out.length; i++) out[i] = (i * 7 + seed) % 251
  return out
}

/** `good` with one byte of each listed block flipped. */
const corrupt = (good: Uint8Array, blocks: ReadonlyArray<number>) => {
  const bad = good.slice()
  for (const b of blocks) bad[b * B + 3] = (bad[b * B + 3] ?? 0) ^ 0xff
  return bad
}

describe("smart ban: examples", () => {
  it("a lone sender is convicted at once, and only once", () => {
    const ban = makeSmartBan<string>()
    const good = pieceOf(2)
    assert.deepStrictEqual(pieceFailed(ban, 0, ["liar", "liar"], corrupt(good, [0])), ["liar"])
    assert.deepStrictEqual(pieceFailed(ban, 1, ["liar", "liar"], corrupt(good, [1])), [])
    assert.strictEqual(suspectSize(ban, 0), undefined, "nothing left to judge")
  })

  it("a shared failure strikes nobody; the verified piece convicts exactly the liar", () => {
    const ban = makeSmartBan<string>()
    const good = pieceOf(4, 1, 100)
    assert.deepStrictEqual(pieceFailed(ban, 5, ["a", "liar", "b", "a"], corrupt(good, [1])), [])
    assert.strictEqual(suspectSize(ban, 5), good.length)
    assert.deepStrictEqual(pieceVerified(ban, 5, good), ["liar"])
    assert.strictEqual(suspectSize(ban, 5), undefined)
    assert.deepStrictEqual(pieceVerified(ban, 5, good), [], "judged once")
  })

  it("a liar's correct blocks do not clear it; two liars in two attempts are both convicted", () => {
    const ban = makeSmartBan<string>()
    const good = pieceOf(4, 2)
    pieceFailed(ban, 0, ["honest", "x", "x", "honest"], corrupt(good, [2]))
    pieceFailed(ban, 0, ["y", "honest", "honest", "honest"], corrupt(good, [0]))
    assert.deepStrictEqual([...pieceVerified(ban, 0, good)].sort(), ["x", "y"])
  })

  it("without the failed bytes only a lone sender is judged", () => {
    const ban = makeSmartBan<string>()
    assert.deepStrictEqual(pieceFailed(ban, 0, ["a", "b"], new Uint8Array(0)), [])
    assert.strictEqual(suspectSize(ban, 0), undefined)
  })

  it("memory is bounded: the oldest piece is forgotten first", () => {
    const ban = makeSmartBan<string>(2, 1)
    const good = pieceOf(2)
    for (const piece of [0, 1, 2]) pieceFailed(ban, piece, ["a", "liar"], corrupt(good, [1]))
    assert.deepStrictEqual([...ban.pieces.keys()], [1, 2])
    pieceFailed(ban, 2, ["liar", "a"], corrupt(good, [0]))
    assert.strictEqual(ban.pieces.get(2)?.attempts.length, 1)
  })
})

describe("smart ban: properties", () => {
  // Pieces of 1–6 blocks, each failed 1–3 times; every block of every attempt comes from one
  // of 6 peers, 0–2 of them liars; a liar's block is wrong or, sometimes, right.
  const attempt = fc.array(fc.record({ peer: fc.nat(5), lies: fc.boolean() }), { minLength: 1, maxLength: 6 })
  const scenario = fc.record({
    liars: fc.uniqueArray(fc.nat(5), { maxLength: 2 }),
    pieces: fc.array(fc.record({ blocks: fc.integer({ min: 1, max: 6 }), attempts: fc.array(attempt, { minLength: 1, maxLength: 3 }) }), {
      minLength: 1,
      maxLength: 6
    })
  })

  it("convicts exactly the peers that sent a wrong block; never an honest one", () => {
    fc.assert(
      fc.property(scenario, ({ liars, pieces }) => {
        const ban = makeSmartBan<number>()
        const wrongSenders = new Set<number>()
        const convicted: Array<number> = []
        pieces.forEach(({ blocks, attempts }, piece) => {
          const good = pieceOf(blocks, piece)
          for (const a of attempts) {
            const senders = Array.from({ length: blocks }, (_, b) => a[b % a.length]?.peer)
            const wrong = senders.flatMap((peer, b) => peer !== undefined && liars.includes(peer) && a[b % a.length]?.lies === true ? [b] : [])
            // a piece with no wrong block would have verified: it cannot fail
            if (wrong.length === 0) continue
            for (const b of wrong) if (senders[b] !== undefined) wrongSenders.add(senders[b])
            convicted.push(...pieceFailed(ban, piece, senders, corrupt(good, wrong)))
          }
          convicted.push(...pieceVerified(ban, piece, good))
        })
        for (const peer of convicted) assert.isTrue(liars.includes(peer), `honest ${peer} convicted`)
        assert.deepStrictEqual([...new Set(convicted)].sort(), [...wrongSenders].sort())
        assert.strictEqual(convicted.length, new Set(convicted).size, "convicted at most once")
      }),
      { numRuns: 200 }
    )
  })
})
