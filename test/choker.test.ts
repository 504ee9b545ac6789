import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Random, Ref } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { choke, type ChokePeer, type ChokeResult, isSnubbed, runChoker } from "../src/choker/index.ts"

const peer = (key: string, extra: Partial<ChokePeer<string>> = {}): ChokePeer<string> => ({
  key,
  interested: true,
  downloadRate: 0,
  uploadRate: 0,
  snubbed: false,
  connectedAt: -1_000_000,
  isSeed: false,
  ...extra
})

const lcg = (seed: number) => {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

const base = { now: 0, seeding: false, previousOptimistic: null, optimisticSince: null, random: lcg(1) }

describe("choke", () => {
  it("leeching: the fastest uploaders to us get the regular slots", () => {
    const peers = [10, 50, 30, 70, 20, 60].map((r, i) => peer(`p${i}`, { downloadRate: r, uploadRate: 100 - r }))
    const r = choke({ ...base, peers })
    assert.deepStrictEqual(r.regular, ["p3", "p5", "p1", "p2"])
    assert.isNotNull(r.optimistic)
    assert.include(["p0", "p4"], r.optimistic)
    assert.strictEqual(r.unchoke.size, 5)
  })

  it("seeding: the peers we upload to fastest get the regular slots", () => {
    const peers = [10, 50, 30, 70, 20, 60].map((r, i) => peer(`p${i}`, { downloadRate: r, uploadRate: 100 - r }))
    assert.deepStrictEqual(choke({ ...base, seeding: true, peers }).regular, ["p0", "p4", "p2", "p1"])
  })

  it("uninterested peers and seeds are never unchoked; snubbed peers only optimistically", () => {
    const peers = [
      peer("fast-but-snubbed", { downloadRate: 1000, snubbed: true }),
      peer("bored", { downloadRate: 900, interested: false }),
      peer("seed", { downloadRate: 800, isSeed: true }),
      peer("ok", { downloadRate: 1 })
    ]
    const r = choke({ ...base, peers })
    assert.deepStrictEqual(r.regular, ["ok"])
    assert.strictEqual(r.optimistic, "fast-but-snubbed")
    // while seeding, snubbing is irrelevant
    assert.include(choke({ ...base, seeding: true, peers }).regular, "fast-but-snubbed")
  })

  it("keeps the optimistic peer for 30 s, then rotates to another one", () => {
    const peers = ["a", "b", "c", "d", "e", "f", "g"].map((k) => peer(k))
    const cfg = { slots: 2 }
    const first = choke({ ...base, peers, config: cfg })
    const opt = first.optimistic
    assert.isNotNull(opt)
    const kept = choke({ ...base, peers, config: cfg, now: 29_999, previousOptimistic: opt, optimisticSince: 0 })
    assert.strictEqual(kept.optimistic, opt)
    assert.strictEqual(kept.optimisticSince, 0)
    const rotated = choke({ ...base, peers, config: cfg, now: 30_000, previousOptimistic: opt, optimisticSince: 0 })
    assert.notStrictEqual(rotated.optimistic, opt)
    assert.strictEqual(rotated.optimisticSince, 30_000)
  })

  it("new peers are about three times as likely to become optimistic", () => {
    const peers = [peer("new", { connectedAt: 0 }), peer("old1"), peer("old2"), peer("old3")]
    const random = lcg(42)
    let wins = 0
    const runs = 6000
    for (let i = 0; i < runs; i++) {
      if (choke({ ...base, peers, now: 10_000, random, config: { slots: 0 } }).optimistic === "new") wins++
    }
    // weight 3 of 6 in total: 50 %, versus 25 % without the bonus
    assert.approximately(wins / runs, 0.5, 0.04)
  })

  it("isSnubbed: unchoked, interested and 60 s without a block", () => {
    const s = { amInterested: true, peerChoking: false, unchokedAt: 0, lastBlockAt: null }
    assert.isFalse(isSnubbed(s, 59_999))
    assert.isTrue(isSnubbed(s, 60_000))
    assert.isFalse(isSnubbed({ ...s, lastBlockAt: 30_000 }, 60_000))
    assert.isFalse(isSnubbed({ ...s, peerChoking: true }, 100_000))
    assert.isFalse(isSnubbed({ ...s, amInterested: false }, 100_000))
  })
})

describe("choke properties", () => {
  const peers = fc.uniqueArray(
    fc.record({
      key: fc.string({ minLength: 1, maxLength: 4 }),
      interested: fc.boolean(),
      downloadRate: fc.nat({ max: 1000 }),
      uploadRate: fc.nat({ max: 1000 }),
      snubbed: fc.boolean(),
      connectedAt: fc.integer({ min: 0, max: 200_000 }),
      isSeed: fc.boolean()
    }),
    { selector: (p) => p.key, maxLength: 30 }
  )
  const input = fc.record({
    peers,
    now: fc.integer({ min: 0, max: 300_000 }),
    seeding: fc.boolean(),
    slots: fc.integer({ min: 0, max: 8 }),
    prevIndex: fc.nat(),
    since: fc.option(fc.integer({ min: 0, max: 300_000 })),
    seed: fc.integer()
  })

  it("at most slots + 1 unchoked, all interested non-seeds, snubbed never regular while leeching, regular ranked by rate", () => {
    fc.assert(
      fc.property(input, (i) => {
        const prev = i.peers.length === 0 ? null : i.peers[i.prevIndex % i.peers.length]?.key ?? null
        const r = choke({
          peers: i.peers,
          now: i.now,
          seeding: i.seeding,
          previousOptimistic: prev,
          optimisticSince: i.since,
          random: lcg(i.seed),
          config: { slots: i.slots }
        })
        const byKey = new Map(i.peers.map((p) => [p.key, p]))
        assert.isAtMost(r.unchoke.size, i.slots + 1)
        assert.isAtMost(r.regular.length, i.slots)
        for (const k of r.unchoke) {
          const p = byKey.get(k)
          assert.isTrue(p !== undefined && p.interested && !p.isSeed)
        }
        for (const k of r.regular) assert.isFalse(!i.seeding && byKey.get(k)?.snubbed === true)
        if (r.optimistic !== null) assert.notInclude(r.regular, r.optimistic)
        const eligible = i.peers.filter((p) => p.interested && !p.isSeed && (i.seeding || !p.snubbed))
        assert.strictEqual(r.regular.length, Math.min(i.slots, eligible.length), "every slot used when possible")
        // nobody left out is faster than someone inside
        const speed = (p: ChokePeer<string> | undefined) => (p === undefined ? 0 : i.seeding ? p.uploadRate : p.downloadRate)
        const slowestIn = Math.min(...r.regular.map((k) => speed(byKey.get(k))))
        for (const p of eligible) if (!r.regular.includes(p.key)) assert.isAtMost(speed(p), slowestIn)
        // the optimistic slot is used whenever someone is left to take it
        const rest = i.peers.filter((p) => p.interested && !p.isSeed && !r.regular.includes(p.key))
        assert.strictEqual(r.optimistic === null, rest.length === 0)
      }),
      { numRuns: 500 }
    )
  })

  it("the optimistic peer changes exactly when 30 s have passed (if anyone else can take it)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 10 }), fc.integer({ min: 0, max: 100_000 }), fc.integer(), (n, dt, seed) => {
        const ps = Array.from({ length: n }, (_, i) => peer(`p${i}`))
        const first = choke({ ...base, peers: ps, random: lcg(seed), config: { slots: 0 } })
        const next = choke({
          ...base,
          peers: ps,
          now: dt,
          random: lcg(seed + 1),
          previousOptimistic: first.optimistic,
          optimisticSince: first.optimisticSince,
          config: { slots: 0 }
        })
        assert.strictEqual(next.optimistic === first.optimistic, dt < 30_000)
      })
    )
  })
})

describe("runChoker", () => {
  it.effect("rechokes every 10 s and rotates the optimistic slot after 30 virtual seconds", () =>
    Effect.gen(function*() {
      const peers = ["a", "b", "c", "d", "e", "f", "g", "h"].map((k, i) => peer(k, { downloadRate: 100 - i }))
      const log = yield* Ref.make<Array<ChokeResult<string>>>([])
      const fiber = yield* runChoker(
        {
          peers: Effect.succeed(peers),
          seeding: Effect.succeed(false),
          apply: (r) => Ref.update(log, (xs) => [...xs, r])
        }
      ).pipe(Random.withSeed(7), Effect.forkChild)
      yield* Effect.yieldNow
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual((yield* Ref.get(log)).length, 1, "one rechoke at start")
      yield* TestClock.adjust("21 seconds")
      const at30 = yield* Ref.get(log)
      assert.strictEqual(at30.length, 4, "rechokes at 0, 10, 20, 30 s")
      const [r0, r1, r2, r3] = at30
      if (r0 === undefined || r1 === undefined || r2 === undefined || r3 === undefined) return assert.fail("4 results")
      for (const r of at30) assert.deepStrictEqual(r.regular, ["a", "b", "c", "d"])
      assert.isNotNull(r0.optimistic)
      assert.strictEqual(r1.optimistic, r0.optimistic)
      assert.strictEqual(r2.optimistic, r0.optimistic)
      assert.notStrictEqual(r3.optimistic, r0.optimistic, "rotated after 30 s")
      assert.strictEqual(r3.optimisticSince, 30_000)
      yield* TestClock.adjust("30 seconds")
      const at60 = yield* Ref.get(log)
      assert.strictEqual(at60.length, 7)
      assert.notStrictEqual(at60[6]?.optimistic, r3.optimistic, "rotated again at 60 s")
      yield* Fiber.interrupt(fiber)
    }))
})
