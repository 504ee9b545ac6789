/**
 * Piece hashing for simulated hosts: the real worker-thread pool (storage/hasher.ts), on
 * virtual time. Every host of a simulation shares one pool, so SHA-1, the largest single
 * cost of a big swarm (every leecher verifies every piece), runs on the other cores while
 * the simulation goes on.
 *
 * A piece takes `size / bytesPerSecond` of virtual time to hash, as on a real machine; if
 * the real work is not done when that time comes, the simulation waits for it
 * (`VirtualTime.offload`; the digest arrives through shared memory, so collecting it needs
 * no trip through the event loop), so traces never depend on the speed of the machine.
 *
 * With `contents` (the shared payload mode, see `ScenarioSpec.payload`) the storage keeps
 * blocks that are views of those buffers by reference (no copy per host), and the SHA-1 of
 * a piece made of one contiguous run of such a buffer is computed once per distinct run
 * and memoised: those buffers never change, so the same run is the same bytes. Any other
 * piece (blocks from different contents: a corrupt peer's beside an honest one's) is
 * copied together and hashed for real. The storage compares the digest with the piece's
 * hash from the metainfo either way; the virtual time charged is the same in both modes,
 * so both give the same trace.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { sha1 } from "../bytes.ts"
import { allocateShared, makeHashPool, type PieceHasherShape } from "../storage/index.ts"
import { currentVirtualTime } from "./virtual-time.ts"

/** About one core's SHA-1 rate. */
export const DEFAULT_HASH_BYTES_PER_SECOND = 1_000_000_000

/** Buffers that never change once registered, and the memoised digests of runs of them. */
export interface ImmutableContents {
  readonly add: (content: Uint8Array) => void
  /** `data` is a view of a registered buffer. */
  readonly has: (data: Uint8Array) => boolean
  readonly holds: (buffer: ArrayBufferLike) => boolean
  /** SHA-1 of `length` bytes of `buffer` from `offset` (a registered buffer), computed once. */
  readonly digest: (buffer: ArrayBufferLike, offset: number, length: number) => Uint8Array
  /** Digests computed (distinct runs), for tests and benchmarks. */
  readonly computed: () => number
}

export const makeImmutableContents = (): ImmutableContents => {
  const memo = new Map<ArrayBufferLike, Map<string, Uint8Array>>()
  let computed = 0
  return {
    add: (content) => {
      if (!memo.has(content.buffer)) memo.set(content.buffer, new Map())
    },
    has: (data) => memo.has(data.buffer),
    holds: (buffer) => memo.has(buffer),
    digest: (buffer, offset, length) => {
      const runs = memo.get(buffer)
      const key = `${offset}:${length}`
      const known = runs?.get(key)
      if (known !== undefined) return known
      const digest = sha1(new Uint8Array(buffer, offset, length))
      computed++
      runs?.set(key, digest)
      return digest
    },
    computed: () => computed
  }
}

/** The one buffer and offset `blocks` are, in order, a contiguous run of; else undefined. */
const contiguousRun = (blocks: ReadonlyArray<Uint8Array>): { buffer: ArrayBufferLike; offset: number; length: number } | undefined => {
  const first = blocks[0]
  if (first === undefined) return undefined
  let end = first.byteOffset
  for (const block of blocks) {
    if (block.buffer !== first.buffer || block.byteOffset !== end) return undefined
    end += block.length
  }
  return { buffer: first.buffer, offset: first.byteOffset, length: end - first.byteOffset }
}

export const makeSimHasher = (
  bytesPerSecond = DEFAULT_HASH_BYTES_PER_SECOND,
  contents?: ImmutableContents
): Effect.Effect<PieceHasherShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const time = yield* currentVirtualTime
    const pool = yield* makeHashPool()
    const durationMs = (bytes: number) => (bytes * 1000) / bytesPerSecond
    const hashBytes = (data: Uint8Array) =>
      time.offload(() => {
        const job = pool.start(data)
        return job.collect
      }, durationMs(data.length))
    const blocks: PieceHasherShape["blocks"] = contents === undefined ? undefined : {
      referable: contents.has,
      sha1: (blocks) => {
        const run = contiguousRun(blocks)
        if (run !== undefined && contents.holds(run.buffer)) {
          return time.offload(() => () => contents.digest(run.buffer, run.offset, run.length), durationMs(run.length))
        }
        let size = 0
        for (const block of blocks) size += block.length
        const piece = allocateShared(size)
        let at = 0
        for (const block of blocks) {
          piece.set(block, at)
          at += block.length
        }
        return hashBytes(piece)
      }
    }
    return {
      sha1: hashBytes,
      allocate: allocateShared,
      ...(blocks === undefined ? {} : { blocks })
    }
  })
