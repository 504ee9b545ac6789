/**
 * How much BEP 52 hashing one peer may make us do. A hash request is cheap to send and can
 * be dear to answer: a piece-layer answer is up to 512 hashes and their proof (16 KiB and
 * more) serialised from memory, a leaf answer reads back up to 512 blocks (8 MiB) and hashes
 * each. Unbounded, a peer asking in a loop keeps our disk and a core busy for nothing, so
 * each peer gets two token buckets (Effect's `RateLimiter`, on the Effect clock, so virtual
 * time in the simulator): one for requests of any kind, one for the 16 KiB blocks leaf
 * answers read back. A request beyond either is answered with a hash reject, as libtorrent
 * rejects what it will not serve, and counts as a request we could not serve (a peer that
 * keeps asking is dropped like any flood).
 *
 * An honest peer stays far below: a client fetching piece layers asks one request per 512
 * pieces, and asks leaves only for a piece that failed its check.
 */
import { type Duration, Effect } from "effect"
import { makeLimiter } from "../ratelimit/index.ts"

interface Bucket {
  readonly limit: number
  readonly window: Duration.Input
}

/** Hash requests of any kind: a burst of 256 (a 128 Ki-piece torrent's layers at once), then 25.6 a second. */
export const HASH_REQUESTS = { limit: 256, window: "10 seconds" } as const satisfies Bucket
/** 16 KiB blocks read back for leaf answers: a burst of 1024 (16 MiB, two full answers), then 64 a second (1 MiB/s). */
export const LEAF_BLOCKS = { limit: 1024, window: "16 seconds" } as const satisfies Bucket

export interface HashBudget {
  /** Spends one request; false when the peer is over its request rate. */
  readonly request: Effect.Effect<boolean>
  /** Spends `blocks` blocks of leaf hashing; false when the peer is over its rate. */
  readonly leaves: (blocks: number) => Effect.Effect<boolean>
}

/** Who asks for hashes: whether we unchoke them (leaves are read back only then), and their budget. */
export interface HashAsker {
  readonly mayRead: boolean
  readonly budget: HashBudget
}

/** The reject reason when `request` or `leaves` said no. */
export const overBudget = (what: "requests" | "leaves"): string =>
  what === "requests"
    ? `over this peer's hash request rate (${HASH_REQUESTS.limit} per ${HASH_REQUESTS.window})`
    : `over this peer's leaf hashing rate (${LEAF_BLOCKS.limit} blocks of 16 KiB per ${LEAF_BLOCKS.window})`

/**
 * A budget for one peer. Its own in-memory store, so the buckets go with the session
 * (a shared store never forgets a key); made on the peer's first hash request only.
 */
export const makeHashBudget: Effect.Effect<HashBudget> = Effect.gen(function*() {
  const limiter = yield* makeLimiter
  const spend = (key: string, bucket: Bucket, tokens: number) =>
    limiter.consume({ algorithm: "token-bucket", onExceeded: "fail", key, limit: bucket.limit, window: bucket.window, tokens }).pipe(
      Effect.as(true),
      // RateLimitExceeded, or (never, in memory) a store failure: either way the answer is no
      Effect.catch(() => Effect.succeed(false))
    )
  return {
    request: spend("requests", HASH_REQUESTS, 1),
    leaves: (blocks) => blocks <= 0 ? Effect.succeed(true) : spend("leaves", LEAF_BLOCKS, blocks)
  }
})
