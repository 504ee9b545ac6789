/**
 * The storage core shared by FileStorage and MemoryStorage: it wires the parts together
 * and keeps them consistent under concurrent use. The parts, each testable alone:
 * validation (checks.ts), piece assembly with bounded memory (assembly.ts), hashing
 * (hashing.ts), the have set (have.ts), the recheck (recheck.ts) and the seeding read
 * cache (reads.ts). Backends only move whole verified pieces (backend.ts).
 */
import { Clock, Effect, Metric, Semaphore } from "effect"
import { hashFailures, pieceVerifySeconds } from "./metrics.ts"
import type { Scope } from "effect"
import * as Assembly from "./assembly.ts"
import type { Backend } from "./backend.ts"
import * as Bitfield from "./bitfield.ts"
import { isIndex } from "./checks.ts"
import { StorageError } from "./errors.ts"
import type { PieceHasherShape } from "./hasher.ts"
import { checkPiece, pieceHashing } from "./hashing.ts"
import * as Have from "./have.ts"
import type { Layout } from "./layout.ts"
import { type PartialPiece, pieceBytes } from "./partial.ts"
import { makePieceReads } from "./reads.ts"
import { scanPieces } from "./recheck.ts"
import type { OpenOptions, PutResult, RecheckProgress, TorrentStorage } from "./types.ts"

export const defaults = {
  maxPartialPieces: 64,
  maxPartialBytes: 128 * 1024 * 1024,
  readCacheBytes: 8 * 1024 * 1024,
  blockSize: 16 * 1024,
  maxPieceLength: 64 * 1024 * 1024,
  maxOpenFiles: 64
} as const

const { results } = Assembly

/**
 * Bytes of complete pieces hashed or written at once before `writeBacklogged` says so. A
 * leecher on this machine keeps 5-8 pieces of 1 MiB there while the page cache takes its
 * writes; once the kernel throttles writers (dirty pages at their limit, after about 2 GiB)
 * the queue reached 20, and with it peak anon grew with the torrent's size (issue 15).
 */
const WRITE_BACKLOG_BYTES = 8 * 1024 * 1024

/** Every operation holds one permit; `close` takes them all, so it waits for in-flight writes. */
const ALL_PERMITS = 2 ** 30

export const makeTorrentStorage = Effect.fnUntraced(function*(
  layout: Layout,
  backend: Backend,
  options: OpenOptions,
  /** Hashes completed pieces off the JS thread; without one, blocks are hashed inline as they arrive. */
  hasher?: PieceHasherShape
): Effect.fn.Return<TorrentStorage, StorageError, Scope.Scope> {
  const count = layout.pieceCount
  const hashing = pieceHashing(layout, hasher, backend.storesBytes === false)
  // options.wanted was validated by openWith (one entry per file)
  const have = Have.makeHaveSet(layout, options.wanted)
  const assembly = Assembly.makeAssembly({
    layout,
    unit: options.blockSize ?? defaults.blockSize,
    limit: Math.max(
      1,
      Math.min(
        options.maxPartialPieces ?? defaults.maxPartialPieces,
        Math.floor((options.maxPartialBytes ?? defaults.maxPartialBytes) / layout.pieceLength)
      )
    ),
    hashing,
    retainsBuffers: backend.retainsBuffers
  })
  const reads = makePieceReads(backend, have, options.readCacheBytes ?? defaults.readCacheBytes)
  const writeBacklog = Math.max(1, Math.floor(WRITE_BACKLOG_BYTES / layout.pieceLength))
  // pieces verified while a recheck runs: the recheck may have looked at them before they were written
  let verifiedDuringRecheck: Set<number> | null = null
  let closed = false
  const clock = yield* Clock.Clock
  const gate = yield* Semaphore.make(ALL_PERMITS)
  const recheckLock = yield* Semaphore.make(1)

  const guarded = <A>(effect: Effect.Effect<A, StorageError>): Effect.Effect<A, StorageError> =>
    gate.withPermits(1)(
      Effect.suspend(() =>
        closed ? Effect.fail(new StorageError({ reason: "Closed", message: "torrent storage is closed" })) : effect
      )
    )

  /**
   * A completed piece's hash matches. A failed one's buffer is not recycled: it goes out with
   * the result, for the smart ban to tell which blocks were wrong (failures are rare).
   */
  const verified = (piece: number, partial: PartialPiece, hash: Uint8Array): boolean | StorageError => {
    const ok = checkPiece(layout, piece, hash, partial.buffer)
    if (ok instanceof StorageError) Assembly.recycle(assembly, have, partial.buffer)
    return ok
  }
  const hashFailed = (partial: PartialPiece): PutResult => ({ _tag: "HashFailed", data: pieceBytes(partial) })

  const written = (piece: number, buffer: Uint8Array): PutResult => {
    Have.mark(have, piece, true)
    verifiedDuringRecheck?.add(piece)
    // The read cache fills on reads: a leecher that nobody asks for data keeps no extra copy.
    Assembly.recycle(assembly, have, buffer)
    return results.Verified
  }

  // Only with inline hashing can a completed piece be verified in the caller's own step; a
  // hybrid's piece may fail with an error, which only `putBlock` reports.
  const writeSync = hashing.incremental && (layout.v2 === null || layout.hashes.length === 0) ? backend.writePieceSync : undefined

  // Errors go through `putBlock`, which reports them. A block that may complete its piece
  // needs a write, which is synchronous only for backends that keep pieces in memory.
  const putBlockSync = writeSync === undefined
    ? (piece: number, begin: number, data: Uint8Array): PutResult | undefined => {
      if (closed || !isIndex(piece, count) || Assembly.mayComplete(assembly, piece, data)) return undefined
      const r = Assembly.accept(assembly, have, piece, begin, data)
      // a completion cannot happen here: see mayComplete
      return r instanceof StorageError || !("_tag" in r) ? undefined : r
    }
    : (piece: number, begin: number, data: Uint8Array): PutResult | undefined => {
      if (closed || !isIndex(piece, count)) return undefined
      const r = Assembly.accept(assembly, have, piece, begin, data)
      if (r instanceof StorageError) return undefined
      if ("_tag" in r) return r
      if (verified(piece, r, hashing.completedSync(piece, r)) !== true) return hashFailed(r)
      writeSync(piece, r.buffer)
      return written(piece, r.buffer)
    }

  const putBlock = (piece: number, begin: number, data: Uint8Array): Effect.Effect<PutResult, StorageError> =>
    guarded(Effect.uninterruptible(Effect.suspend((): Effect.Effect<PutResult, StorageError> => {
      const accepted = Assembly.accept(assembly, have, piece, begin, data)
      if (accepted instanceof StorageError) return Effect.fail(accepted)
      if ("_tag" in accepted) return Effect.succeed(accepted)
      const partial = accepted
      const buffer = partial.buffer
      // Until hashed and written the buffer still counts against the partial limit (it is
      // still in memory), and blocks for the piece are duplicates.
      assembly.writing.add(piece)
      const started = clock.currentTimeMillisUnsafe()
      return hashing.completed(piece, partial).pipe(
        Effect.tap(() => Metric.update(pieceVerifySeconds, (clock.currentTimeMillisUnsafe() - started) / 1000)),
        Effect.flatMap((hash) => {
          const ok = verified(piece, partial, hash)
          if (ok instanceof StorageError) return Effect.fail(ok)
          return ok
            ? Effect.map(backend.writePiece(piece, buffer), () => written(piece, buffer))
            : Effect.as(Metric.update(hashFailures, 1), hashFailed(partial))
        }),
        Effect.ensuring(Effect.sync(() => assembly.writing.delete(piece)))
      )
    })))

  const applyHave = (next: Uint8Array) => {
    Have.replace(have, next)
    Assembly.prune(assembly, have)
  }

  const recheck = (onProgress?: (progress: RecheckProgress) => Effect.Effect<void>) =>
    guarded(recheckLock.withPermits(1)(Effect.gen(function*() {
      const during = new Set<number>()
      verifiedDuringRecheck = during
      const result = yield* scanPieces(layout, backend, hashing, onProgress).pipe(
        Effect.ensuring(Effect.sync(() => (verifiedDuringRecheck = null)))
      )
      for (const piece of during) Bitfield.set(result, piece, true)
      reads.cache.clear()
      applyHave(result)
      return have.verified
    })))

  const setWanted = (next: ReadonlyArray<boolean>) =>
    Effect.suspend(() => {
      if (next.length !== layout.files.length) {
        return Effect.fail(new StorageError({
          reason: "InvalidArgument",
          message: `wanted has ${next.length} entries, the torrent has ${layout.files.length} files`
        }))
      }
      Have.setWanted(have, next)
      Assembly.prune(assembly, have)
      return Effect.void
    })

  const close = Effect.suspend(() => {
    if (closed) return Effect.void
    closed = true
    return gate.withPermits(ALL_PERMITS)(Effect.gen(function*() {
      Assembly.clear(assembly)
      reads.cache.clear()
      const saved = yield* Effect.result(backend.saveResume(Uint8Array.from(have.bits)))
      yield* backend.close
      if (saved._tag === "Failure") return yield* Effect.fail(saved.failure)
    }))
  })

  const trusted = yield* backend.loadResume
  applyHave(trusted ?? (yield* scanPieces(layout, backend, hashing, options.onRecheckProgress)))
  yield* Effect.addFinalizer(() =>
    close.pipe(Effect.catch((e) => Effect.logWarning(`closing torrent storage failed: ${e.message}`)))
  )

  return {
    pieceCount: count,
    putBlock,
    putBlockSync,
    read: (piece, begin, length) => guarded(reads.read(piece, begin, length)),
    readSync: (piece, begin, length) => (closed ? undefined : reads.readSync(piece, begin, length)),
    lend: (piece, begin, length) => guarded(reads.lend(piece, begin, length)),
    lendSync: (piece, begin, length) => (closed ? undefined : reads.lendSync(piece, begin, length)),
    release: reads.release,
    prefetch: (piece) => {
      const read = closed ? undefined : reads.prefetch(piece)
      return read === undefined ? undefined : Effect.ignore(guarded(read))
    },
    writeBacklogged: () => assembly.writing.size >= writeBacklog,
    hasPiece: (piece) => isIndex(piece, count) && Have.has(have, piece),
    have: Effect.sync(() => Uint8Array.from(have.bits)),
    verifiedCount: Effect.sync(() => have.verified),
    bytesVerified: Effect.sync(() => have.bytes),
    setWanted,
    discardPartial: (piece) => Effect.sync(() => void assembly.partials.delete(piece)),
    recheck,
    saveResume: guarded(Effect.suspend(() => backend.saveResume(Uint8Array.from(have.bits)))),
    close
  } satisfies TorrentStorage
})
