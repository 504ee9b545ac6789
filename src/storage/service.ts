import { Context, Effect } from "effect"
import { toHex } from "../bytes.ts"
import { wireInfoHash } from "../metainfo/identity.ts"
import type { Scope } from "effect"
import type { Metainfo } from "../metainfo/model.ts"
import type { Backend } from "./backend.ts"
import type { PieceHasherShape } from "./hasher.ts"
import { StorageError } from "./errors.ts"
import { type Layout, makeLayout, resolveInside } from "./layout.ts"
import { defaults, makeTorrentStorage } from "./torrent-storage.ts"
import type { OpenOptions, TorrentStorage } from "./types.ts"

/**
 * Where a torrent's data lives: pieces in, verified pieces out, files on disk (or in memory).
 *
 * **When to use**
 *
 * Provide `FileStorage.layer` (real files) or `MemoryStorage.layer` (in memory: tests, the
 * simulator) to `Client.layer`; the client opens each torrent's storage itself. Call `open`
 * directly only to read or check a torrent's data outside a client.
 *
 * **Details**
 *
 * Blocks are assembled per piece, hashed (inline as they arrive, or by the `PieceHasher` with
 * the `layerWithHasher` variants) and written once verified; verified data is never
 * overwritten. Opening trusts a resume record only when every file's size and mtime match it,
 * and otherwise re-checks what is on disk. See `storage/index.ts` for the whole contract.
 *
 * **Example**
 *
 * ```ts
 * const storage = yield* Storage
 * const data = yield* storage.open(meta, { directory: "downloads" }) // closed with the scope
 * const bytes = yield* data.read(0, 0, 16384) // a verified piece's first block
 * ```
 */
export class Storage extends Context.Service<Storage, {
  /**
   * Opens a torrent's data in `options.directory`: existing data is taken from a valid
   * resume record or re-checked piece by piece. Closing the scope closes the storage.
   */
  readonly open: (meta: Metainfo, options: OpenOptions) => Effect.Effect<TorrentStorage, StorageError, Scope.Scope>
}>()("effect-torrent/Storage") {}

/** What a backend factory gets: the validated layout and every real file's checked absolute path. */
export interface BackendInput {
  readonly layout: Layout
  /** Hex id of the torrent (v1 info-hash), used to name per-torrent state. */
  readonly key: string
  /** Absolute, resolved download directory. */
  readonly root: string
  /** Absolute path per file; null for padding files (never touched). */
  readonly paths: ReadonlyArray<string | null>
  readonly options: OpenOptions
}

const invalidArgument = (message: string) => new StorageError({ reason: "InvalidArgument", message })

const positiveInt = (name: string, value: number | undefined): StorageError | undefined =>
  value === undefined || (Number.isSafeInteger(value) && value > 0)
    ? undefined
    : invalidArgument(`${name} must be a positive integer, got ${value}`)

const checkOptions = (meta: Metainfo, options: OpenOptions): StorageError | undefined =>
  positiveInt("maxPartialPieces", options.maxPartialPieces) ??
    positiveInt("maxPartialBytes", options.maxPartialBytes) ??
    positiveInt("blockSize", options.blockSize) ??
    positiveInt("maxPieceLength", options.maxPieceLength) ??
    positiveInt("maxOpenFiles", options.maxOpenFiles) ??
    (options.readCacheBytes !== undefined && !(Number.isSafeInteger(options.readCacheBytes) && options.readCacheBytes >= 0)
      ? invalidArgument(`readCacheBytes must be a non-negative integer, got ${options.readCacheBytes}`)
      : undefined) ??
    (options.wanted !== undefined && options.wanted.length !== meta.files.length
      ? invalidArgument(`wanted has ${options.wanted.length} entries, the torrent has ${meta.files.length} files`)
      : undefined)

/** Validation shared by every layer, then the backend, then the shared core. */
export const openWith = (
  makeBackend: (input: BackendInput) => Effect.Effect<Backend, StorageError, Scope.Scope>,
  hasher?: PieceHasherShape
) =>
  Effect.fn("Storage.open")(function*(meta: Metainfo, options: OpenOptions) {
    const badOption = checkOptions(meta, options)
    if (badOption !== undefined) return yield* badOption
    const checked = makeLayout(meta, options.maxPieceLength ?? defaults.maxPieceLength)
    if (checked._tag === "Invalid") return yield* new StorageError({ reason: checked.reason, message: checked.message })
    const layout = checked.layout
    const root = options.directory
    const paths: Array<string | null> = []
    for (const file of layout.files) {
      if (file.padding) {
        paths.push(null)
        continue
      }
      const resolved = resolveInside(root, file.path)
      if (resolved._tag === "Refused") {
        return yield* new StorageError({ reason: "PathEscape", message: resolved.message, file: file.path.join("/") })
      }
      paths.push(resolved.path)
    }
    const key = toHex(wireInfoHash(meta))
    const backend = yield* makeBackend({ layout, key, root, paths, options })
    return yield* makeTorrentStorage(layout, backend, options, hasher)
  })
