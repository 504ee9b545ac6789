import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"
import * as fc from "fast-check"
import { formatBytes, formatEta, formatRate, parseDuration, parseRate, parseSize } from "../src/cli/units.ts"

const millis = (d: Duration.Duration | undefined) => (d === undefined ? undefined : Duration.toMillis(d))

describe("cli/units: one set of rules for sizes, rates and durations", () => {
  it("parseSize: binary units in any case, fractions rounded to a whole byte", () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ["262144", 262144],
      ["256KiB", 262144],
      ["256k", 262144],
      ["256 kb", 262144],
      ["1M", 1048576],
      ["1 MiB", 1048576],
      ["1.5M", 1572864],
      ["2gb", 2 * 1024 ** 3],
      ["1T", 1024 ** 4],
      ["100b", 100],
      ["0", 0],
      ["0.5k", 512]
    ]
    for (const [input, bytes] of cases) assert.strictEqual(parseSize(input), bytes, input)
    for (const bad of ["", "-1", "1X", "M", "1.", ".5k", "1e3", "99999999999999999G", "8388608G", "1k/s", "1 2"]) {
      assert.isUndefined(parseSize(bad), bad)
    }
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 20 }), fc.constantFrom(["", 1], ["k", 1024], ["KiB", 1024], ["m", 1024 ** 2], ["MB", 1024 ** 2], ["G", 1024 ** 3]), (n, [unit, factor]) => {
      assert.strictEqual(parseSize(`${n}${unit}`), n * (factor as number))
    }))
  })

  it("parseRate: the same sizes, with an optional /s", () => {
    assert.strictEqual(parseRate("500k"), 512_000)
    assert.strictEqual(parseRate("10M"), 10 * 1024 * 1024)
    assert.strictEqual(parseRate("10MB/s"), 10 * 1024 * 1024)
    assert.strictEqual(parseRate("1.5MiB/s"), 1_572_864)
    assert.strictEqual(parseRate("250000"), 250_000)
    for (const bad of ["fast", "-5k", "5k/m", "/s"]) assert.isUndefined(parseRate(bad), bad)
    fc.assert(fc.property(fc.stringMatching(/^\d{1,6}(\.\d{1,3})?\s?(k|M|GiB|b)?$/), (size) => {
      assert.strictEqual(parseRate(`${size}/s`), parseSize(size), size)
    }))
  })

  it("parseDuration: parts with units (what Duration.format writes), or a bare number in the flag's unit", () => {
    assert.strictEqual(millis(parseDuration("90s", "seconds")), 90_000)
    assert.strictEqual(millis(parseDuration("30m", "seconds")), 1_800_000)
    assert.strictEqual(millis(parseDuration("2h", "seconds")), 7_200_000)
    assert.strictEqual(millis(parseDuration("1h30m", "seconds")), 5_400_000)
    assert.strictEqual(millis(parseDuration("1h 30m 5s", "seconds")), 5_405_000)
    assert.strictEqual(millis(parseDuration("1.5s", "millis")), 1500)
    assert.strictEqual(millis(parseDuration("50ms", "seconds")), 50)
    assert.strictEqual(millis(parseDuration("1d", "seconds")), 86_400_000)
    assert.strictEqual(millis(parseDuration("120", "seconds")), 120_000)
    assert.strictEqual(millis(parseDuration("50", "millis")), 50)
    assert.strictEqual(millis(parseDuration("2.5", "millis")), 2.5)
    for (const bad of ["", "soon", "5x", "s", "1h30", "-5s", "5 s x", "1e3s"]) assert.isUndefined(parseDuration(bad, "seconds"), bad)
    fc.assert(fc.property(fc.integer({ min: 1, max: 10 ** 9 }), (ms) => {
      assert.strictEqual(millis(parseDuration(Duration.format(Duration.millis(ms)), "seconds")), ms)
    }))
  })

  it("formatting", () => {
    assert.strictEqual(formatBytes(512), "512 B")
    assert.strictEqual(formatBytes(1536), "1.5 KiB")
    assert.strictEqual(formatBytes(262144), "256 KiB")
    assert.strictEqual(formatRate(1536.4), "1.5 KiB/s")
    assert.strictEqual(formatEta(null), "--")
    assert.strictEqual(formatEta(45), "45s")
    assert.strictEqual(formatEta(185), "3m05s")
    assert.strictEqual(formatEta(7620), "2h07m")
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 50 }), (n) => {
      const shown = parseSize(formatBytes(n).replace(" ", ""))
      assert.isDefined(shown)
      if (shown !== undefined) assert.isAtMost(Math.abs(shown - n) / Math.max(n, 1), 0.006, formatBytes(n))
    }))
  })
})
