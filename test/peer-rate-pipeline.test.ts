/** The request pipeline's depth (rate × queue time in blocks) and the sliding-window rate meter. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { DEFAULT_PIPELINE, makeRateMeter, pipelineDepth } from "../src/peer/index.ts"

const KiB = 1024
const MiB = 1024 * KiB

describe("pipelineDepth", () => {
  it("keeps queueSeconds of the peer's rate requested, in blocks", () => {
    // 1 MiB/s for 3 s = 3 MiB = 192 blocks of 16 KiB
    assert.strictEqual(pipelineDepth(MiB), 192)
    // a partial block still needs a request
    assert.strictEqual(pipelineDepth((100 * 16 * KiB + 1) / 3), 101)
  })

  it("a fresh peer (rate 0) starts at min; a fast one stops at max", () => {
    assert.strictEqual(pipelineDepth(0), DEFAULT_PIPELINE.min)
    assert.strictEqual(pipelineDepth(1), DEFAULT_PIPELINE.min)
    assert.strictEqual(pipelineDepth(1000 * MiB), DEFAULT_PIPELINE.max)
    const limits = { min: 2, max: 8, queueSeconds: 1, blockSize: 1000 }
    assert.strictEqual(pipelineDepth(0, limits), 2)
    assert.strictEqual(pipelineDepth(5000, limits), 5)
    assert.strictEqual(pipelineDepth(50_000, limits), 8)
  })

  it("stays within [min, max] and never shrinks as the rate grows", () => {
    fc.assert(fc.property(
      fc.double({ min: 0, max: 1e10, noNaN: true }),
      fc.double({ min: 0, max: 1e10, noNaN: true }),
      fc.record({ min: fc.integer({ min: 1, max: 50 }), extra: fc.integer({ min: 0, max: 1000 }), queueSeconds: fc.double({ min: 0.1, max: 30, noNaN: true }), blockSize: fc.integer({ min: 1, max: MiB }) }),
      (a, b, l) => {
        const limits = { min: l.min, max: l.min + l.extra, queueSeconds: l.queueSeconds, blockSize: l.blockSize }
        const [low, high] = a <= b ? [a, b] : [b, a]
        const dLow = pipelineDepth(low, limits)
        const dHigh = pipelineDepth(high, limits)
        return Number.isInteger(dLow) && dLow >= limits.min && dHigh <= limits.max && dLow <= dHigh
      }
    ))
  })
})

describe("makeRateMeter", () => {
  it("a new meter reads zero", () => {
    const m = makeRateMeter()
    assert.strictEqual(m.rate(10_000), 0)
    assert.strictEqual(m.total(), 0)
  })

  it("a young meter averages over the time it has existed, at least one second", () => {
    const m = makeRateMeter(5)
    m.add(1000, 10_000)
    assert.strictEqual(m.rate(10_000), 1000, "within its first second: over one second")
    m.add(1000, 11_500)
    assert.strictEqual(m.rate(12_000), 1000, "2000 bytes over two seconds")
    m.add(3000, 14_000)
    assert.strictEqual(m.rate(14_000), 1250, "5000 bytes over four seconds")
    assert.strictEqual(m.rate(15_000), 800, "a full window: second 10 has left it, 4000 bytes over five seconds")
  })

  it("forgets what is older than the window, but not the total", () => {
    const m = makeRateMeter(5)
    m.add(5000, 0)
    m.add(5000, 1000)
    assert.strictEqual(m.rate(4000), 2500)
    assert.strictEqual(m.rate(5000), 1000, "second 0 left the window")
    assert.strictEqual(m.rate(6000), 0, "second 1 left it too")
    assert.strictEqual(m.rate(600_000), 0, "long idle")
    assert.strictEqual(m.total(), 10_000)
    m.add(2500, 600_000)
    assert.strictEqual(m.rate(600_000), 500, "only the new second counts, over the full window")
  })

  it("matches a naive model: bytes of the last `window` seconds over min(window, age)", () => {
    const step = fc.record({ dt: fc.integer({ min: 0, max: 3000 }), bytes: fc.integer({ min: 0, max: 1 << 20 }), read: fc.boolean() })
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1e9 }), fc.array(step, { maxLength: 60 }), (window, start, steps) => {
      const m = makeRateMeter(window)
      const added: Array<{ readonly second: number; readonly bytes: number }> = []
      let now = start
      let total = 0
      for (const s of steps) {
        now += s.dt
        if (s.read) {
          if (added.length === 0) {
            if (m.rate(now) !== 0) return false
            continue
          }
          const second = Math.floor(now / 1000)
          const inWindow = added.filter((a) => a.second > second - window).reduce((n, a) => n + a.bytes, 0)
          const first = added[0]?.second ?? second
          const elapsed = Math.min(window, Math.max(1, now / 1000 - first))
          if (Math.abs(m.rate(now) - inWindow / elapsed) > 1e-6) return false
        } else {
          m.add(s.bytes, now)
          added.push({ second: Math.floor(now / 1000), bytes: s.bytes })
          total += s.bytes
        }
      }
      return m.total() === total
    }))
  })
})
