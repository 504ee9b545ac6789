/**
 * A web seed as a participant of its torrent: to the picker it is a peer with every piece
 * (`peerHasAll`), keyed by its URL; its blocks go through the same storage, verification and
 * blame as a peer's. A piece it alone sent that fails its hash check bans it for the torrent.
 *
 * Each seed runs `requests` workers; each picks a batch of blocks (contiguous when it can),
 * merges them into runs and fetches each run as one request per file (BEP 19) or per piece
 * (BEP 17), delivering blocks as their bytes arrive. A failing seed leaves the picker (its
 * blocks go to other sources) and comes back after `Retry-After` or an exponential backoff.
 */
import { Deferred, Duration, Effect, Exit, Result, Schedule, type Scope } from "effect"
import type { HttpClient } from "effect/http"
import { type PeerKey, webSeedKey } from "../ids.ts"
import type { Metainfo } from "../metainfo/index.ts"
import type { TorrentLink } from "../peer/index.ts"
import { afterPut, storeBlock } from "../peer/store.ts"
import { unlimited } from "../ratelimit/index.ts"
import { BLOCK_SIZE, type Block } from "../scheduler/index.ts"
import { WebSeedError } from "./errors.ts"
import { fetchInto, type FetchOptions, type RangeRequest } from "./http.ts"
import { fileParts, mergeRuns, type Part, pieceParts, type Run } from "./plan.ts"
import { fileUrl, pieceUrl } from "./urls.ts"

export interface WebSeedOptions {
  /** Requests in flight per seed. */
  readonly requests: number
  /** Bytes asked for per pick (merged into as few requests as the layout allows). */
  readonly requestBytes: number
  readonly fetch: FetchOptions
  /** First wait after a failure without `Retry-After`; doubles up to `maxBackoff`. */
  readonly backoff: Duration.Duration
  readonly maxBackoff: Duration.Duration
  /** A request dropped for a wrong `Content-Range` this many times in a row fails the seed. */
  readonly maxDroppedRequests: number
}

export const DEFAULT_WEB_SEED_OPTIONS: WebSeedOptions = {
  requests: 4,
  requestBytes: 2 * 1024 * 1024,
  fetch: { maxRedirects: 5, timeout: Duration.seconds(30), maxRetryAfter: Duration.minutes(10) },
  backoff: Duration.seconds(5),
  maxBackoff: Duration.minutes(5),
  maxDroppedRequests: 3
}

/** What a torrent gives its web seeds. */
export interface WebSeedHost {
  readonly link: TorrentLink
  readonly meta: Metainfo
  /** `stop` is called when the torrent bans the seed; the result unregisters it. */
  readonly register: (key: PeerKey, stop: () => void) => () => void
  readonly isBanned: (key: PeerKey) => boolean
}

/** Starts a torrent's web seeds; they run until the scope closes (pause, remove) or are banned. */
export type WebSeedStarter = (host: WebSeedHost) => Effect.Effect<void, never, Scope.Scope>

interface Seed {
  readonly url: string
  /** BEP 19 url-list (Range requests per file) or BEP 17 httpseeds (per piece). */
  readonly kind: "url-list" | "httpseeds"
}

const IDLE = Duration.seconds(1)

/**
 * The web seeds (BEP 19 `url-list`, BEP 17 `httpseeds`) of every torrent, fetched with `client`.
 *
 * **Example**
 *
 * ```ts
 * const client = yield* HttpClient.HttpClient
 * const starter = webSeeds(client) // TorrentConfig.webSeeds
 * ```
 */
export const webSeeds = (client: HttpClient.HttpClient, options: WebSeedOptions = DEFAULT_WEB_SEED_OPTIONS): WebSeedStarter => (host) =>
  Effect.gen(function*() {
    const seeds: ReadonlyArray<Seed> = [
      ...host.meta.webSeeds.filter(isHttp).map((url) => ({ url, kind: "url-list" as const })),
      ...(host.meta.httpSeeds ?? []).filter(isHttp).map((url) => ({ url, kind: "httpseeds" as const }))
    ]
    for (const seed of seeds) yield* Effect.forkScoped(runSeed(client, options, host, seed))
  })

const isHttp = (url: string): boolean => /^https?:\/\//i.test(url)

const runSeed = (client: HttpClient.HttpClient, options: WebSeedOptions, host: WebSeedHost, seed: Seed) =>
  Effect.gen(function*() {
    const { link } = host
    const key = webSeedKey(seed.url)
    if (host.isBanned(key)) return
    const banned = yield* Deferred.make<void>()
    const unregister = host.register(key, () => Deferred.doneUnsafe(banned, Exit.void))
    yield* Effect.addFinalizer(() => Effect.sync(unregister))

    // One session: in the picker while it lasts; its blocks go back when it ends.
    const session = Effect.gen(function*() {
      yield* Effect.acquireRelease(
        Effect.sync(() => link.picker.peerHasAll(key)),
        () => Effect.sync(() => {
          link.picker.removePeer(key)
          link.wakeAll()
        })
      )
      const worker = makeWorker(client, options, host, seed, key)
      yield* Effect.all(Array.from({ length: Math.max(1, options.requests) }, () => worker), { concurrency: "unbounded", discard: true })
    }).pipe(Effect.scoped)

    const schedule = Schedule.exponential(options.backoff).pipe(
      Schedule.modifyDelay(({ duration, input }) =>
        Effect.succeed(
          input instanceof WebSeedError && input.retryAfterMillis !== undefined
            ? Duration.millis(input.retryAfterMillis)
            : Duration.min(duration, options.maxBackoff)
        )
      )
    )
    const retried = session.pipe(
      Effect.tapError((e) => link.log("info", `${e.message}; retrying later`)),
      Effect.retry(schedule)
    )
    yield* Effect.raceFirst(retried.pipe(Effect.ignore), Deferred.await(banned))
  }).pipe(Effect.scoped)

const makeWorker = (client: HttpClient.HttpClient, options: WebSeedOptions, host: WebSeedHost, seed: Seed, key: PeerKey) => {
  const { link, meta } = host
  const maxBlocks = Math.max(1, Math.ceil(options.requestBytes / BLOCK_SIZE))
  const throttled = link.downloadThrottle !== unlimited
  const pieceSizeOf = (piece: number) => Math.min(meta.pieceLength, meta.totalSize - piece * meta.pieceLength)

  const requestOf = (part: Exclude<Part, { _tag: "Zeros" }>): RangeRequest => {
    if (part._tag === "File") {
      const file = meta.files[part.file]
      return { url: fileUrl(seed.url, meta, part.file), length: part.length, range: { first: part.offset, fileLength: file?.length ?? 0 } }
    }
    return { url: pieceUrl(seed.url, link.infoHash, part.piece, part.begin, part.length, pieceSizeOf(part.piece)), length: part.length, range: null }
  }

  /** Fetches one run, handing each block over as soon as its bytes are in. */
  const fetchRun = (run: Run) =>
    Effect.gen(function*() {
      const buffer = new Uint8Array(run.length)
      let next = 0
      let blockEnd = 0
      // Taking blocks from the picker and handing them to storage is one uninterruptible step:
      // a block the picker counts as received must reach storage even if the seed is banned
      // (interrupted) meanwhile, or its piece would wait for it forever.
      const deliver = (filled: number): Effect.Effect<void> =>
        Effect.uninterruptible(Effect.suspend(() => {
          const pending: Array<Effect.Effect<void>> = []
          for (let b = run.blocks[next]; b !== undefined && blockEnd + b.length <= filled; b = run.blocks[next]) {
            const data = buffer.subarray(blockEnd, blockEnd + b.length)
            blockEnd += b.length
            next++
            const effect = deliverBlock(b, data)
            if (effect !== undefined) pending.push(effect)
          }
          return pending.length === 0 ? Effect.void : Effect.all(pending, { discard: true })
        }))
      const parts = seed.kind === "url-list" ? fileParts(meta.files, run) : pieceParts(meta.pieceLength, run)
      for (const part of parts) {
        if (part._tag === "Zeros") {
          yield* deliver(part.at + part.length)
          continue
        }
        let counted = 0
        yield* fetchInto(client, requestOf(part), buffer, part.at, options.fetch, (received) => {
          const bytes = received - counted
          counted = received
          link.onDownloaded(bytes)
          const delivered = deliver(part.at + received)
          return throttled ? Effect.andThen(delivered, link.downloadThrottle.take(bytes)) : delivered
        })
      }
    }).pipe(
      // Blocks not delivered go back to the picker (the seed stays: only this request is dropped).
      Effect.onError(() => Effect.sync(() => {
        for (const b of run.blocks) link.picker.requestTimedOut(key, b)
        link.wakeAll()
      }))
    )

  /** The picker's and storage's part for one block; undefined when nothing is left to run. */
  const deliverBlock = (b: Block, data: Uint8Array): Effect.Effect<void> | undefined => {
    const received = link.picker.blockReceived(key, b.piece, b.begin, b.length)
    if (received._tag !== "Accepted") return undefined
    for (const other of received.cancels) link.linkOf(other)?.cancelRequest(b)
    const put = link.storage.putBlockSync(b.piece, b.begin, data)
    if (put !== undefined) return afterPut(link, b.piece, put)
    const store = storeBlock(link, b.piece, b.begin, data)
    return received.pieceComplete ? link.background(store) : store
  }

  return Effect.gen(function*() {
    let dropped = 0
    while (true) {
      const blocks = link.isComplete() ? [] : link.picker.pick(key, maxBlocks, link.random, true)
      if (blocks.length === 0) {
        yield* Effect.sleep(IDLE)
        continue
      }
      for (const run of mergeRuns(blocks, meta.pieceLength)) {
        const result = yield* Effect.result(fetchRun(run))
        if (Result.isSuccess(result)) {
          dropped = 0
          continue
        }
        const error = result.failure
        // A wrong Content-Range drops that request only, unless the seed keeps doing it.
        if (error.reason !== "ContentRange" || ++dropped >= options.maxDroppedRequests) return yield* error
        yield* link.log("debug", error.message)
      }
    }
  })
}
