/** Piece hashing in worker threads: digests, shared and unshared input, shutdown, and storage using it. */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { PieceIndex } from "../src/ids.ts"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { allocateShared, FileStorage, makeHashPool, PieceHasher, Storage } from "../src/storage/index.ts"
import { sha1 } from "../src/bytes.ts"
import { blocksOf, makeFixture, pieceData, pseudoRandomBytes, tempDir } from "./storage-helpers.ts"

describe("PieceHasher (worker threads)", () => {
  it.live("hashes shared and unshared bytes of every size, many at once, like inline SHA-1", () =>
    Effect.gen(function*() {
      const pool = yield* makeHashPool(2)
      const sizes = [0, 1, 63, 64, 16384, 16385, 262144, 1 << 20, 3 * 1000 * 1000 + 7]
      const inputs = sizes.flatMap((size, i) => {
        const shared = allocateShared(size + 11).subarray(5, 5 + size)
        shared.set(pseudoRandomBytes(size, i + 1))
        return [shared, pseudoRandomBytes(size, i + 1)]
      })
      const digests = yield* Effect.forEach(inputs, pool.hash, { concurrency: "unbounded" })
      inputs.forEach((d, i) => assert.deepStrictEqual(digests[i], sha1(d), `input ${i} (${d.length} bytes)`))
      // a worker reads the view, not the whole shared buffer around it
      const big = allocateShared(100)
      big.fill(1)
      assert.deepStrictEqual(yield* pool.hash(big.subarray(10, 20)), sha1(new Uint8Array(10).fill(1)))
    }).pipe(Effect.scoped))

  it.live("the threads exit when the pool's scope closes; jobs still pending are hashed inline", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* makeHashPool(3).pipe(Scope.provide(scope))
      assert.strictEqual(pool.running(), 0, "no thread before the first job")
      const data = allocateShared(32 << 20)
      data.set(pseudoRandomBytes(1 << 20, 4))
      const submitted = yield* Deferred.make<void>()
      const pending = yield* Effect.forkChild(Effect.forEach(
        Array.from({ length: 12 }, () => data),
        (d, i) => i === 11 ? Effect.andThen(Deferred.succeed(submitted, undefined), pool.hash(d)) : pool.hash(d),
        { concurrency: "unbounded" }
      ))
      yield* Deferred.await(submitted)
      yield* Effect.yieldNow
      assert.strictEqual(pool.running(), 3, "the first job started them all")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(pool.running(), 0)
      for (const digest of yield* Fiber.join(pending)) assert.deepStrictEqual(digest, sha1(data))
      // after the close, hashing still works (inline)
      assert.deepStrictEqual(yield* pool.hash(data), sha1(data))
    }))

  it.live("a wait for a digest is interruptible; the pool keeps working afterwards", () =>
    Effect.gen(function*() {
      const pool = yield* makeHashPool(1)
      const data = allocateShared(16 << 20)
      data.set(pseudoRandomBytes(1 << 20, 5))
      // 16 MiB takes a thread milliseconds: the interrupt lands while it hashes
      const waiting = yield* Effect.forkChild(Effect.forEach([data, data, data], pool.hash, { concurrency: "unbounded" }))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(waiting)
      const exit = yield* Fiber.await(waiting)
      assert.isTrue(Exit.hasInterrupts(exit))
      const small = allocateShared(1000).fill(7)
      assert.deepStrictEqual(yield* pool.hash(small), sha1(small))
    }).pipe(Effect.scoped))

  it.live("FileStorage with worker hashing: good pieces verify, a corrupt one fails, a recheck finds what is on disk", () =>
    Effect.gen(function*() {
      const directory = yield* tempDir
      const fixture = makeFixture([{ path: ["a.bin"], length: 300_000 }, { path: ["b.bin"], length: 200_001 }], 65536, 9)
      const storage = yield* Layer.build(FileStorage.layerWithHasher.pipe(Layer.provide(Layer.mergeAll(PieceHasher.layerWorkers({ threads: 1 }), NodeFileSystem.layer))))
      const open = Storage.use((s) => s.open(fixture.meta, { directory })).pipe(Effect.provideContext(storage))
      const results: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const t = yield* open
        for (const b of blocksOf(fixture, 16384)) {
          const data = b.piece === 3 && b.begin === 16384 ? b.data.map((x) => x ^ 0xff) : b.data
          const r = yield* t.putBlock(PieceIndex(b.piece), b.begin, data)
          if (r._tag !== "Incomplete") results.push(`${b.piece}:${r._tag}`)
        }
        assert.isFalse(t.hasPiece(PieceIndex(3)))
        assert.deepStrictEqual(yield* t.read(PieceIndex(2), 0, 65536), pieceData(fixture, 2))
        // once hashed and written, the failed piece can come again
        for (const b of blocksOf(fixture, 16384).filter((b) => b.piece === 3)) yield* t.putBlock(PieceIndex(3), b.begin, b.data)
        assert.isTrue(t.hasPiece(PieceIndex(3)))
      }))
      assert.deepStrictEqual(results, Array.from({ length: fixture.meta.pieceCount }, (_, i) => `${i}:${i === 3 ? "HashFailed" : "Verified"}`))
      // corrupt piece 1 on disk and drop the resume record: the recheck (hashed by the workers) finds the rest
      const { rm, open: openFile } = yield* Effect.promise(() => import("node:fs/promises"))
      yield* Effect.promise(() => rm(`${directory}/.effect-torrent`, { recursive: true, force: true }))
      yield* Effect.promise(async () => {
        const h = await openFile(`${directory}/a.bin`, "r+")
        await h.write(new Uint8Array(10).fill(0), 0, 10, 65536 + 5)
        await h.close()
      })
      const count = yield* Effect.scoped(Effect.flatMap(open, (t) => t.verifiedCount))
      assert.strictEqual(count, fixture.meta.pieceCount - 1)
    }).pipe(Effect.scoped))
})
