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
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { allocateShared, makeHashPool, type PieceHasherShape } from "../storage/index.ts"
import { currentVirtualTime } from "./virtual-time.ts"

/** About one core's SHA-1 rate. */
export const DEFAULT_HASH_BYTES_PER_SECOND = 1_000_000_000

export const makeSimHasher = (
  bytesPerSecond = DEFAULT_HASH_BYTES_PER_SECOND
): Effect.Effect<PieceHasherShape, never, Scope.Scope> =>
  Effect.gen(function*() {
    const time = yield* currentVirtualTime
    const pool = yield* makeHashPool()
    return {
      sha1: (data) =>
        time.offload(() => {
          const job = pool.start(data)
          return job.collect
        }, (data.length * 1000) / bytesPerSecond),
      allocate: allocateShared
    }
  })
