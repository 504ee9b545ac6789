/**
 * The parts of the storage core on their own: the have set, block checks, piece assembly
 * with bounded memory, hashing choices, the recheck scan and the read cache.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import { sha1 } from "../src/bytes.ts"
import * as Assembly from "../src/storage/assembly.ts"
import type { Backend } from "../src/storage/backend.ts"
import * as Bitfield from "../src/storage/bitfield.ts"
import { checkBlock, checkRead } from "../src/storage/checks.ts"
import { StorageError } from "../src/storage/errors.ts"
import { allocateShared, makeHashPool } from "../src/storage/hasher.ts"
import { checkPiece, hasherHashing, inlineHashing, type PieceHashing } from "../src/storage/hashing.ts"
import * as Have from "../src/storage/have.ts"
import { type Layout, makeLayout, pieceSize } from "../src/storage/layout.ts"
import { makePieceReads } from "../src/storage/reads.ts"
import { scanPieces } from "../src/storage/recheck.ts"
import { type FileSpec, makeFixture, pieceData } from "./storage-helpers.ts"

const BLOCK = 16384

const layoutOf = (files: ReadonlyArray<FileSpec>, pieceLength: number) => {
  const fixture = makeFixture(files, pieceLength, 3)
  const result = makeLayout(fixture.meta, 1 << 26)
  if (result._tag !== "Ok") throw new Error(result.message)
  return { layout: result.layout, fixture }
}

/** 4 pieces of 64 KiB and a last one of 10 000 bytes; file b (pieces 2..4) is separate. */
const standard = () => layoutOf([{ path: ["a"], length: 2 * 65536 }, { path: ["b"], length: 2 * 65536 + 10_000 }], 65536)

const blocks = (fixture: ReturnType<typeof makeFixture>, layout: Layout, piece: number) => {
  const data = pieceData(fixture, piece)
  const out: Array<{ readonly begin: number; readonly data: Uint8Array }> = []
  for (let begin = 0; begin < pieceSize(layout, piece); begin += BLOCK) {
    out.push({ begin, data: data.subarray(begin, Math.min(begin + BLOCK, data.length)) })
  }
  return out
}

const memoryBackend = (stored: Map<number, Uint8Array>, options: Partial<Backend> = {}): Backend => ({
  writePiece: (piece, data) => Effect.sync(() => void stored.set(piece, data)),
  readPiece: (piece) => Effect.succeed(stored.get(piece) ?? null),
  beginRecheck: Effect.succeed((piece) => Effect.succeed(stored.get(piece) ?? null)),
  loadResume: Effect.succeed(null),
  saveResume: () => Effect.void,
  close: Effect.void,
  cacheReads: true,
  retainsBuffers: false,
  ...options
})

describe("storage: have set", () => {
  it("counts pieces, payload bytes (padding excluded) and missing wanted pieces", () => {
    const { layout } = layoutOf(
      [{ path: ["a"], length: 100_000 }, { path: ["pad"], length: 31_072, padding: true }, { path: ["b"], length: 65536 }],
      65536
    )
    const have = Have.makeHaveSet(layout, [true, true, false])
    assert.deepStrictEqual([have.verified, have.bytes, have.missingWanted], [0, 0, 2])
    Have.mark(have, 1, true) // 34 464 bytes of a, then padding
    Have.mark(have, 1, true) // idempotent
    assert.deepStrictEqual([have.verified, have.bytes, have.missingWanted], [1, 100_000 - 65536, 1])
    Have.mark(have, 2, true) // unwanted b
    assert.deepStrictEqual([have.verified, have.bytes, have.missingWanted], [2, 100_000 - 65536 + 65536, 1])
    Have.setWanted(have, [false, true, true])
    assert.strictEqual(have.missingWanted, 0)
    Have.replace(have, Bitfield.fromBooleans([true, false, false]))
    assert.deepStrictEqual([have.verified, have.bytes, have.missingWanted], [1, 65536, 1])
  })

  it("property: the counters always match the bits", () => {
    const { layout } = standard()
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat({ max: 4 }), fc.boolean()), { maxLength: 40 }), (marks) => {
      const have = Have.makeHaveSet(layout, [false, true])
      for (const [piece, value] of marks) Have.mark(have, piece, value)
      let verified = 0
      let bytes = 0
      let missing = 0
      for (let p = 0; p < layout.pieceCount; p++) {
        if (Have.has(have, p)) {
          verified++
          bytes += pieceSize(layout, p)
        } else if (p >= 2) missing++
      }
      assert.deepStrictEqual([have.verified, have.bytes, have.missingWanted], [verified, bytes, missing])
    }))
  })
})

describe("storage: checks", () => {
  const { layout } = standard()
  it("blocks: index, range, alignment; the last piece may end short", () => {
    assert.isUndefined(checkBlock(layout, BLOCK, 0, 0, BLOCK))
    assert.isUndefined(checkBlock(layout, BLOCK, 4, 0, 10_000))
    assert.isUndefined(checkBlock(layout, BLOCK, 0, 0, 65536))
    for (const [piece, begin, length] of [[5, 0, BLOCK], [-1, 0, BLOCK], [0.5, 0, BLOCK], [0, 65536 - 100, BLOCK], [0, 0, 0], [0, 100, BLOCK], [0, 0, 100], [4, 0, 10_001]] as const) {
      const error = checkBlock(layout, BLOCK, piece, begin, length)
      assert.instanceOf(error, StorageError, `${piece}/${begin}/${length}`)
      assert.strictEqual(error?.reason, "OutOfRange")
    }
  })

  it("reads: any non-empty range inside the piece", () => {
    assert.isUndefined(checkRead(layout, 0, 100, 7))
    assert.strictEqual(checkRead(layout, 4, 9_999, 2)?.reason, "OutOfRange")
    assert.strictEqual(checkRead(layout, 0, 0, Number.NaN)?.reason, "OutOfRange")
  })
})

describe("storage: assembly", () => {
  const make = (limit: number, retainsBuffers = false, hashing: PieceHashing = inlineHashing) => {
    const { layout, fixture } = standard()
    return { layout, fixture, have: Have.makeHaveSet(layout, undefined), a: Assembly.makeAssembly({ layout, unit: BLOCK, limit, hashing, retainsBuffers }) }
  }

  it("hands back the completed piece, whose inline digest is the piece hash", () => {
    const { layout, fixture, have, a } = make(4)
    const [first, ...rest] = blocks(fixture, layout, 1).reverse()
    if (first === undefined) throw new Error("no blocks")
    assert.strictEqual(Assembly.accept(a, have, 1, first.begin, first.data), Assembly.results.Incomplete)
    assert.strictEqual(Assembly.accept(a, have, 1, first.begin, first.data), Assembly.results.Duplicate)
    let last: ReturnType<typeof Assembly.accept> | undefined
    for (const b of rest) {
      assert.strictEqual(Assembly.mayComplete(a, 1, b.data), b === rest[rest.length - 1])
      last = Assembly.accept(a, have, 1, b.begin, b.data)
    }
    assert.isTrue(last !== undefined && !(last instanceof StorageError) && !("_tag" in last))
    assert.strictEqual(a.partials.size, 0)
    if (last !== undefined && "buffer" in last) {
      assert.isTrue(checkPiece(layout, 1, Effect.runSync(inlineHashing.completed(1, last)), last.buffer))
    }
  })

  it("refuses a new piece beyond the limit (pieces being written count), unwanted and verified pieces", () => {
    const { layout, fixture, have, a } = make(2)
    const b0 = blocks(fixture, layout, 0)[0]
    const b1 = blocks(fixture, layout, 1)[0]
    const b2 = blocks(fixture, layout, 2)[0]
    if (b0 === undefined || b1 === undefined || b2 === undefined) throw new Error("no blocks")
    assert.strictEqual(Assembly.accept(a, have, 0, 0, b0.data), Assembly.results.Incomplete)
    a.writing.add(3)
    assert.strictEqual(Assembly.accept(a, have, 1, 0, b1.data), Assembly.results.Backpressure)
    assert.strictEqual(Assembly.accept(a, have, 3, 0, b1.data), Assembly.results.Duplicate)
    a.writing.delete(3)
    assert.strictEqual(Assembly.accept(a, have, 1, 0, b1.data), Assembly.results.Incomplete)
    Have.mark(have, 2, true)
    assert.strictEqual(Assembly.accept(a, have, 2, 0, b2.data), Assembly.results.Duplicate)
    Have.setWanted(have, [true, false])
    assert.strictEqual(Assembly.accept(a, have, 3, 0, b2.data), Assembly.results.Unwanted)
    assert.strictEqual((Assembly.accept(a, have, 0, 1, b0.data) as StorageError).reason, "OutOfRange")
    // pruning drops what is had or no longer wanted
    Have.mark(have, 0, true)
    Assembly.prune(a, have)
    assert.deepStrictEqual([...a.partials.keys()], [1])
  })

  it("recycles full-size buffers while something wanted is missing, never retained or short ones", () => {
    const { layout, have, a } = make(2)
    Assembly.recycle(a, have, new Uint8Array(layout.pieceLength))
    Assembly.recycle(a, have, new Uint8Array(10_000))
    assert.strictEqual(a.spare.length, 1)
    Assembly.recycle(a, have, new Uint8Array(layout.pieceLength))
    Assembly.recycle(a, have, new Uint8Array(layout.pieceLength))
    assert.strictEqual(a.spare.length, 2, "never more than the limit")
    for (let p = 0; p < layout.pieceCount; p++) Have.mark(have, p, true)
    Assembly.recycle(a, have, new Uint8Array(layout.pieceLength))
    assert.strictEqual(a.spare.length, 0, "a seed keeps none")
    const retained = make(2, true)
    Assembly.recycle(retained.a, retained.have, new Uint8Array(layout.pieceLength))
    assert.strictEqual(retained.a.spare.length, 0)
  })

  it.live("with a hasher, pieces go into its buffers and are hashed whole", () =>
    Effect.gen(function*() {
      const pool = yield* makeHashPool(1)
      const hashing = hasherHashing({ sha1: pool.hash, allocate: allocateShared })
      assert.isFalse(hashing.incremental)
      const { layout, fixture, have, a } = make(2, false, hashing)
      let completed: ReturnType<typeof Assembly.accept> | undefined
      for (const b of blocks(fixture, layout, 4)) completed = Assembly.accept(a, have, 4, b.begin, b.data)
      if (completed === undefined || !("buffer" in completed)) return assert.fail("piece 4 did not complete")
      assert.instanceOf(completed.buffer.buffer, SharedArrayBuffer)
      assert.isUndefined(completed.hash)
      assert.isTrue(checkPiece(layout, 4, yield* hashing.completed(4, completed), completed.buffer))
    }).pipe(Effect.scoped))
})

describe("storage: recheck scan", () => {
  it.effect("finds exactly the stored pieces whose data hashes right, reporting progress per piece", () =>
    Effect.gen(function*() {
      const { layout, fixture } = standard()
      const stored = new Map<number, Uint8Array>([[0, pieceData(fixture, 0)], [2, pieceData(fixture, 2)], [4, pieceData(fixture, 4)]])
      stored.set(2, pieceData(fixture, 2).map((x, i) => (i === 5 ? x ^ 1 : x)))
      const progress: Array<string> = []
      const bits = yield* scanPieces(layout, memoryBackend(stored), inlineHashing, (p) =>
        Effect.sync(() => void progress.push(`${p.checked}/${p.total}:${p.verified}`)))
      assert.deepStrictEqual(Array.from({ length: 5 }, (_, p) => Bitfield.get(bits, p)), [true, false, false, false, true])
      assert.deepStrictEqual(progress, ["1/5:1", "2/5:1", "3/5:1", "4/5:1", "5/5:2"])
    }))
})

describe("storage: reads", () => {
  it.effect("serves verified pieces through the cache; a piece that vanished stops being claimed", () =>
    Effect.gen(function*() {
      const { layout, fixture } = standard()
      const stored = new Map<number, Uint8Array>([[1, pieceData(fixture, 1)]])
      let diskReads = 0
      const backend = memoryBackend(stored, {
        readPiece: (piece) => Effect.sync(() => (diskReads++, stored.get(piece) ?? null))
      })
      const have = Have.makeHaveSet(layout, undefined)
      Have.mark(have, 1, true)
      Have.mark(have, 2, true)
      const reads = makePieceReads(backend, have, 1 << 20)
      assert.isUndefined(reads.readSync(1, 0, 10), "not cached yet, and no synchronous backend read")
      assert.deepStrictEqual(yield* reads.read(1, 100, 4), pieceData(fixture, 1).subarray(100, 104))
      assert.deepStrictEqual(yield* reads.read(1, 0, 4), pieceData(fixture, 1).subarray(0, 4))
      assert.strictEqual(diskReads, 1)
      assert.deepStrictEqual(reads.readSync(1, 8, 2), pieceData(fixture, 1).subarray(8, 10))
      assert.strictEqual((yield* Effect.flip(reads.read(0, 0, 4))).reason, "NotVerified")
      assert.strictEqual((yield* Effect.flip(reads.read(2, 0, 4))).reason, "NotVerified")
      assert.isFalse(Have.has(have, 2), "data missing from storage: the piece is no longer claimed")
      assert.strictEqual((yield* Effect.flip(reads.read(1, 65530, 7))).reason, "OutOfRange")
      assert.deepStrictEqual(sha1(stored.get(1) ?? new Uint8Array()), sha1(pieceData(fixture, 1)))
    }))
})
