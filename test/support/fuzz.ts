/**
 * A small coverage-free fuzzer for the pure decoders (issue 19): each target gives valid
 * samples from a structure-aware fast-check generator; every run takes one, applies 0..6
 * byte mutations (flips, interesting values, inserts, deletes, truncation, splices with
 * another sample, length-field tweaks) or, one run in eight, feeds plain random bytes.
 *
 * A crash is any exception escaping the target (its decoders return typed failures) or a
 * broken invariant the target checks (a defect). A hang is a run slower than `hangMs`:
 * the decoders are synchronous, so a real infinite loop stops the test at its time-out,
 * and a run slower than that bound is reported with its input.
 *
 * Deterministic: the same seed gives the same inputs, so a failure replays. Failures are
 * written as regression fixtures (hex) under test/fixtures/fuzz/, replayed by every run.
 * No vitest import: scripts/fuzz.ts (`npm run fuzz`) runs the same targets at volume.
 */
import * as fc from "fast-check"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export interface FuzzTarget {
  readonly name: string
  /** Valid (or nearly valid) inputs, built from the format's structure. */
  readonly samples: fc.Arbitrary<Uint8Array>
  /** Decodes `input`; throws on a crash or a broken invariant. */
  readonly run: (input: Uint8Array) => void
  /** Random-bytes runs stay below this length (default 512). */
  readonly maxRandomLength?: number
}

export interface FuzzFailure {
  readonly input: Uint8Array
  readonly error: string
  readonly kind: "crash" | "hang"
}

export interface FuzzReport {
  readonly target: string
  readonly runs: number
  readonly mutated: number
  readonly random: number
  readonly samples: number
  readonly failures: ReadonlyArray<FuzzFailure>
  readonly slowestMs: number
  readonly elapsedMs: number
  /** CPU time of the run (user + system), the budget that matters on a shared machine. */
  readonly cpuMs: number
}

/** xorshift32: cheap and reproducible; fast-check's own generator costs more per byte. */
const makeRandom = (seed: number) => {
  let x = seed >>> 0 || 0x9e3779b9
  const next = (): number => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
  return { next, below: (n: number): number => (n <= 0 ? 0 : next() % n) }
}
type Random = ReturnType<typeof makeRandom>

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x30, 0x39, 0x3a, 0x2d, 0x65, 0x64, 0x69, 0x6c]

const mutateOnce = (r: Random, b: Uint8Array, other: Uint8Array): Uint8Array => {
  const at = r.below(b.length + 1)
  switch (r.below(9)) {
    case 0: { // bit flip
      if (b.length === 0) return b
      const out = b.slice()
      const i = at % b.length
      out[i] = (out[i] ?? 0) ^ (1 << r.below(8))
      return out
    }
    case 1: { // an interesting byte (bencode's syntax bytes among them)
      if (b.length === 0) return Uint8Array.of(INTERESTING[r.below(INTERESTING.length)] ?? 0)
      const out = b.slice()
      out[at % b.length] = INTERESTING[r.below(INTERESTING.length)] ?? 0
      return out
    }
    case 2: { // insert random bytes
      const n = 1 + r.below(8)
      const out = new Uint8Array(b.length + n)
      out.set(b.subarray(0, at))
      for (let i = 0; i < n; i++) out[at + i] = r.next() & 0xff
      out.set(b.subarray(at), at + n)
      return out
    }
    case 3: { // delete a range
      const n = 1 + r.below(16)
      const out = new Uint8Array(Math.max(0, b.length - n))
      out.set(b.subarray(0, Math.min(at, out.length)))
      out.set(b.subarray(Math.min(b.length, at + n)).subarray(0, out.length - Math.min(at, out.length)), Math.min(at, out.length))
      return out
    }
    case 4: // truncate
      return b.subarray(0, at)
    case 5: { // splice: our head, the other sample's tail
      const cut = r.below(other.length + 1)
      const out = new Uint8Array(at + other.length - cut)
      out.set(b.subarray(0, at))
      out.set(other.subarray(cut), at)
      return out
    }
    case 6: { // a 32-bit big-endian field set to an edge value (length prefixes, counts)
      if (b.length < 4) return b
      const out = b.slice()
      const i = at % (b.length - 3)
      const edges = [0, 1, 0x7fffffff, 0xffffffff, b.length, b.length + 1, 0x4000, 0x100000]
      new DataView(out.buffer).setUint32(i, edges[r.below(edges.length)] ?? 0)
      return out
    }
    case 7: { // an ASCII digit run (bencode lengths and integers)
      const digits = String(r.below(3) === 0 ? r.next() : r.below(100))
      const enc = new TextEncoder().encode(digits)
      const out = new Uint8Array(b.length + enc.length)
      out.set(b.subarray(0, at))
      out.set(enc, at)
      out.set(b.subarray(at), at + enc.length)
      return out
    }
    default: { // duplicate a range
      const n = Math.min(b.length - Math.min(at, b.length), 1 + r.below(32))
      const out = new Uint8Array(b.length + n)
      out.set(b.subarray(0, at + n))
      out.set(b.subarray(at), at + n)
      return out
    }
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e))

export const FIXTURES = join(import.meta.dirname, "..", "fixtures", "fuzz")

/** Regression inputs of `target` (files `<target>-*.hex`). */
export const fixturesOf = (target: string): ReadonlyArray<{ readonly file: string; readonly input: Uint8Array }> => {
  let files: Array<string>
  try {
    files = readdirSync(FIXTURES)
  } catch {
    return []
  }
  return files
    .filter((f) => f.startsWith(`${target}-`) && f.endsWith(".hex"))
    .map((file) => ({ file, input: new Uint8Array(Buffer.from(readFileSync(join(FIXTURES, file), "utf8").trim(), "hex")) }))
}

const saveFixture = (target: string, input: Uint8Array): void => {
  mkdirSync(FIXTURES, { recursive: true })
  const name = `${target}-${hex(input).slice(0, 16) || "empty"}-${input.length}.hex`
  writeFileSync(join(FIXTURES, name), `${hex(input)}\n`)
}

export interface FuzzOptions {
  readonly runs: number
  readonly seed?: number
  /** Distinct valid samples drawn up front (mutated in turn). */
  readonly samples?: number
  readonly hangMs?: number
  /** Stop after this many failures (their inputs are all kept). */
  readonly maxFailures?: number
  /** Write each failure as a fixture under test/fixtures/fuzz/. */
  readonly saveFailures?: boolean
}

export const fuzz = (target: FuzzTarget, options: FuzzOptions): FuzzReport => {
  const seed = options.seed ?? 19
  const hangMs = options.hangMs ?? 1000
  const maxFailures = options.maxFailures ?? 5
  const pool = fc.sample(target.samples, { numRuns: options.samples ?? 500, seed })
  const r = makeRandom(seed)
  const failures: Array<FuzzFailure> = []
  let mutated = 0
  let random = 0
  let slowestMs = 0
  let runs = 0
  const started = performance.now()
  const cpu = process.cpuUsage()
  for (; runs < options.runs && failures.length < maxFailures; runs++) {
    let input: Uint8Array
    if (r.below(8) === 0) {
      random++
      input = new Uint8Array(r.below(target.maxRandomLength ?? 512))
      for (let j = 0; j < input.length; j++) input[j] = r.next() & 0xff
    } else {
      input = pool[r.below(pool.length)] ?? new Uint8Array(0)
      const rounds = r.below(7)
      if (rounds > 0) mutated++
      for (let k = 0; k < rounds; k++) input = mutateOnce(r, input, pool[r.below(pool.length)] ?? input)
    }
    // Targets may decrypt in place: they get a copy, so the pool and `input` stay as fed
    const copy = input
    const t0 = performance.now()
    try {
      target.run(input.slice())
    } catch (e) {
      failures.push({ input: copy, error: describe(e), kind: "crash" })
    }
    const ms = performance.now() - t0
    if (ms > slowestMs) slowestMs = ms
    // A slow run on a loaded machine may just have waited for the CPU: replay it and
    // call it a hang only when it burns the CPU time too
    if (ms > hangMs) {
      const c0 = process.cpuUsage()
      try {
        target.run(copy.slice())
      } catch {
        // reported above already
      }
      const used = process.cpuUsage(c0)
      const cpuMs = (used.user + used.system) / 1000
      if (cpuMs > hangMs) failures.push({ input: copy, error: `took ${cpuMs.toFixed(0)} ms of CPU`, kind: "hang" })
    }
  }
  if (options.saveFailures === true) for (const f of failures) saveFixture(target.name, f.input)
  return {
    target: target.name,
    runs,
    mutated,
    random,
    samples: pool.length,
    failures,
    slowestMs,
    elapsedMs: performance.now() - started,
    cpuMs: ((u) => (u.user + u.system) / 1000)(process.cpuUsage(cpu))
  }
}

export const formatReport = (rep: FuzzReport): string =>
  `${rep.target.padEnd(18)} ${String(rep.runs).padStart(9)} inputs (${rep.mutated} mutated, ${rep.random} random, ` +
  `${rep.samples} samples) ${rep.failures.filter((f) => f.kind === "crash").length} crashes, ` +
  `${rep.failures.filter((f) => f.kind === "hang").length} hangs, slowest ${rep.slowestMs.toFixed(1)} ms, ` +
  `${(rep.elapsedMs / 1000).toFixed(1)} s (${(rep.cpuMs / 1000).toFixed(1)} s CPU)` +
  rep.failures.slice(0, 3).map((f) => `\n  ${f.kind}: ${f.error} <- ${hex(f.input).slice(0, 160)}`).join("")
