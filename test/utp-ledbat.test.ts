/**
 * LEDBAT, the pure controller: the window grows below the 100 ms target and shrinks above
 * it (the sign of BEP 29's formula, not its prose), by at most the gain per round trip;
 * the base delay is the minimum of the last two minutes, across the 32-bit wrap; losses
 * halve once per round trip; a time-out drops to one packet.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { addDelaySample, baseDelay, DEFAULT_LEDBAT, type LedbatConfig, makeLedbat, onAck, onLoss, onTimeout, queueingDelay } from "../src/utp/ledbat.ts"

const config: LedbatConfig = { ...DEFAULT_LEDBAT, initialWindow: 100_000 }

/** One round trip's worth of acks (a full window, in packets) at a queueing delay. */
const roundTrip = (l: ReturnType<typeof makeLedbat>, base: number, delayMicros: number, nowMs: number) => {
  const packets = Math.max(1, Math.floor(l.cwnd / config.packetBytes))
  const inFlight = packets * config.packetBytes
  for (let i = 0; i < packets; i++) {
    addDelaySample(l, (base + delayMicros) >>> 0, nowMs)
    onAck(l, config.packetBytes, inFlight, true)
  }
}

describe("LEDBAT", () => {
  it("grows below the target and shrinks above it, at most `gain` bytes per round trip", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 1, max: 0xffffffff }), (delay, base) => {
      fc.pre(((base + delay) >>> 0) !== 0)
      const l = makeLedbat(config, 0)
      l.slowStart = false
      addDelaySample(l, base >>> 0, 0) // the minimum: the base delay (0 would mean "no sample")
      for (let i = 0; i < 3; i++) addDelaySample(l, (base + delay) >>> 0, 0)
      const before = l.cwnd
      roundTrip(l, base, delay, 0)
      const change = l.cwnd - before
      if (delay < config.targetMicros) assert.isAbove(change, 0)
      if (delay > config.targetMicros) assert.isBelow(change, 0)
      assert.isAtMost(Math.abs(change), config.gainBytes + 1e-6)
    }))
  })

  it("scales the change with the distance from the target", () => {
    const at = (delay: number) => {
      const l = makeLedbat(config, 0)
      l.slowStart = false
      addDelaySample(l, 1000, 0)
      for (let i = 0; i < 3; i++) addDelaySample(l, 1000 + delay, 0)
      roundTrip(l, 1000, delay, 0)
      return l.cwnd - config.initialWindow
    }
    assert.approximately(at(0), config.gainBytes, 1)
    assert.approximately(at(50_000), config.gainBytes / 2, 1)
    assert.approximately(at(150_000), -config.gainBytes / 2, 1)
    // far above the target the decrease is still gain-limited
    assert.approximately(at(1_000_000), -config.gainBytes, 1)
  })

  it("slow start doubles per round trip until the delay reaches the target", () => {
    const l = makeLedbat({ ...config, initialWindow: 2 * config.packetBytes }, 0)
    addDelaySample(l, 5000, 0)
    // each ack adds the larger of the bytes acked and the linear gain
    roundTrip(l, 5000, 0, 0)
    assert.isAtLeast(l.cwnd, 4 * config.packetBytes)
    assert.isAtMost(l.cwnd, 4 * config.packetBytes + config.gainBytes)
    const before = l.cwnd
    roundTrip(l, 5000, 0, 0)
    assert.isAtLeast(l.cwnd, 2 * before - config.packetBytes)
    assert.isTrue(l.slowStart)
    for (let i = 0; i < 3; i++) addDelaySample(l, 5000 + 120_000, 0)
    onAck(l, config.packetBytes, l.cwnd, true)
    assert.isFalse(l.slowStart)
  })

  it("the window does not grow while the application sends less than it allows", () => {
    const l = makeLedbat(config, 0)
    addDelaySample(l, 1000, 0)
    onAck(l, config.packetBytes, config.packetBytes, false)
    assert.strictEqual(l.cwnd, config.initialWindow)
  })

  it("base delay: the minimum of the last two minutes, across the 32-bit wrap", () => {
    const l = makeLedbat(config, 0)
    addDelaySample(l, 0xffff_ff00, 0)
    addDelaySample(l, 0x0000_0100, 10_000) // 512 µs later than the base, wrapped
    assert.strictEqual(baseDelay(l), 0xffff_ff00)
    assert.strictEqual(queueingDelay(l), 0)
    assert.strictEqual(l.recent.filter((d) => d === 512).length, 1)
    // a clock drifting up: after two minutes without the old minimum, the base follows
    addDelaySample(l, 0x0000_0100, 61_000)
    assert.strictEqual(baseDelay(l), 0xffff_ff00)
    addDelaySample(l, 0x0000_0100, 121_000)
    assert.strictEqual(baseDelay(l), 0x0000_0100)
    // 0 means "no sample" and is ignored
    addDelaySample(l, 0, 121_000)
    assert.strictEqual(baseDelay(l), 0x0000_0100)
  })

  it("a loss halves the window once per round trip; a time-out drops to one packet", () => {
    const l = makeLedbat(config, 0)
    onLoss(l, 1000, 50)
    assert.strictEqual(l.cwnd, config.initialWindow / 2)
    onLoss(l, 1020, 50)
    assert.strictEqual(l.cwnd, config.initialWindow / 2)
    onLoss(l, 1100, 50)
    assert.strictEqual(l.cwnd, config.initialWindow / 4)
    onTimeout(l, 2000)
    assert.strictEqual(l.cwnd, config.packetBytes)
    assert.isTrue(l.slowStart)
    for (let i = 0; i < 20; i++) onLoss(l, 3000 + i * 100, 50)
    assert.strictEqual(l.cwnd, config.packetBytes)
  })
})
