/**
 * The daemon's state directory: what survives a restart.
 *
 * ```
 * <state>/settings.json            global settings (limits, the next torrent id)
 * <state>/torrents/<hash>.torrent  the metainfo as a .torrent file
 * <state>/torrents/<hash>.json     the torrent's record: id, directory, paused, priorities, limits
 * <state>/resume/<hash>.resume     storage's resume records (which pieces are verified)
 * ```
 *
 * Crash consistency: every file is written under a temporary name, synced, then renamed
 * over the old one (atomic on POSIX), so a reader sees the old or the new file, never half
 * of one. A torrent belongs to the state once its record exists; the record is written
 * after the .torrent and deleted before it. A process killed between the two leaves a
 * .torrent without a record, which `load` deletes: an add that did not finish never
 * happened, and a remove that started is finished. A magnet link still fetching its
 * metadata has a record (with `magnet`) and no .torrent yet.
 */
import { isCanonicalInfoHash } from "../ids.ts"
import { Effect, FileSystem, Path, Schema } from "effect"
import { DaemonError } from "./errors.ts"

export const Priority = Schema.Literals([0, 1, 2])

export const TorrentRecord = Schema.Struct({
  infoHash: Schema.String,
  /** Small integer id, stable across restarts (Transmission RPC clients address torrents by it). */
  id: Schema.Int,
  name: Schema.String,
  directory: Schema.String,
  addedAt: Schema.Number,
  paused: Schema.Boolean,
  /** One per file; absent until the metadata is known. */
  priorities: Schema.optional(Schema.Array(Priority)),
  uploadLimit: Schema.NullOr(Schema.Number),
  downloadLimit: Schema.NullOr(Schema.Number),
  /** The magnet link, for a torrent added by one (its .torrent appears once the metadata is fetched). */
  magnet: Schema.optional(Schema.String),
  /** The per-torrent trace switch (daemon/traces.ts). */
  trace: Schema.optional(Schema.Boolean)
})
export type TorrentRecord = typeof TorrentRecord.Type

export const Settings = Schema.Struct({
  uploadLimit: Schema.NullOr(Schema.Number),
  downloadLimit: Schema.NullOr(Schema.Number),
  nextId: Schema.Int
})
export type Settings = typeof Settings.Type

const RecordJson = Schema.fromJsonString(TorrentRecord)
const SettingsJson = Schema.fromJsonString(Settings)

export interface StoredTorrent {
  readonly record: TorrentRecord
  /** The .torrent bytes; null while a magnet link's metadata is being fetched. */
  readonly torrent: Uint8Array | null
}

export interface StateStore {
  readonly root: string
  readonly resumeDirectory: string
  /** Every committed torrent, after cleaning what an interrupted add or remove left. */
  readonly load: Effect.Effect<{ readonly settings: Settings; readonly torrents: ReadonlyArray<StoredTorrent> }, DaemonError>
  readonly saveSettings: (settings: Settings) => Effect.Effect<void, DaemonError>
  /** Writes the .torrent (when given) and then the record, which commits it. */
  readonly saveTorrent: (record: TorrentRecord, torrent?: Uint8Array) => Effect.Effect<void, DaemonError>
  /** Deletes the record (the torrent leaves the state), then the .torrent and resume record. */
  readonly removeTorrent: (infoHash: string) => Effect.Effect<void, DaemonError>
  /** Forgets which pieces were verified: the next open checks the data again. */
  readonly removeResume: (infoHash: string) => Effect.Effect<void, DaemonError>
}

export const makeStateStore = Effect.fn("StateStore.make")(function*(root: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const torrentsDir = path.join(root, "torrents")
  const resumeDirectory = path.join(root, "resume")
  const fail = (op: string, file: string) => (cause: { readonly message: string }) =>
    new DaemonError({ reason: "State", detail: `${op} ${file}: ${cause.message}` })

  for (const dir of [root, torrentsDir, resumeDirectory]) {
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(fail("create", dir)))
  }

  /** Temp file, sync, rename, sync the folder: the new content or the old, never a mix. */
  const writeAtomic = (file: string, data: Uint8Array) =>
    Effect.scoped(Effect.gen(function*() {
      const temp = `${file}.tmp`
      const handle = yield* fs.open(temp, { flag: "w" })
      yield* handle.writeAll(data)
      yield* handle.sync
      yield* fs.rename(temp, file)
      const dir = yield* fs.open(path.dirname(file), { flag: "r" })
      yield* dir.sync
    })).pipe(Effect.mapError(fail("write", file)))

  const removeIfThere = (file: string) =>
    fs.remove(file, { force: true }).pipe(Effect.mapError(fail("delete", file)))

  const recordFile = (hash: string) => path.join(torrentsDir, `${hash}.json`)
  const torrentFile = (hash: string) => path.join(torrentsDir, `${hash}.torrent`)

  const readSettings = Effect.gen(function*() {
    const file = path.join(root, "settings.json")
    const text = yield* fs.readFileString(file).pipe(Effect.option)
    if (text._tag === "None") return { uploadLimit: null, downloadLimit: null, nextId: 1 }
    return yield* Schema.decodeUnknownEffect(SettingsJson)(text.value).pipe(Effect.mapError(fail("read", file)))
  })

  const load = Effect.gen(function*() {
    const settings = yield* readSettings
    const names = yield* fs.readDirectory(torrentsDir).pipe(Effect.mapError(fail("list", torrentsDir)))
    const torrents: Array<StoredTorrent> = []
    for (const name of names) {
      if (name.endsWith(".tmp")) {
        yield* removeIfThere(path.join(torrentsDir, name))
        continue
      }
      const hash = name.replace(/\.(json|torrent)$/, "")
      if (!isCanonicalInfoHash(hash)) continue
      if (name.endsWith(".torrent")) {
        // a .torrent without its record: an add that did not commit, or a remove that did
        if (!names.includes(`${hash}.json`)) yield* removeIfThere(torrentFile(hash))
        continue
      }
      const text = yield* fs.readFileString(recordFile(hash)).pipe(Effect.mapError(fail("read", recordFile(hash))))
      const decoded = yield* Effect.result(Schema.decodeUnknownEffect(RecordJson)(text))
      if (decoded._tag === "Failure" || decoded.success.infoHash !== hash) {
        yield* Effect.logWarning(`ignoring the unreadable record ${recordFile(hash)}`)
        continue
      }
      const record = decoded.success
      const bytes = names.includes(`${hash}.torrent`)
        ? yield* fs.readFile(torrentFile(hash)).pipe(Effect.mapError(fail("read", torrentFile(hash))))
        : null
      if (bytes === null && record.magnet === undefined) {
        yield* Effect.logWarning(`dropping ${hash}: its record has neither a .torrent nor a magnet link`)
        yield* removeIfThere(recordFile(hash))
        continue
      }
      torrents.push({ record, torrent: bytes })
    }
    torrents.sort((a, b) => a.record.id - b.record.id)
    const nextId = Math.max(settings.nextId, ...torrents.map((t) => t.record.id + 1))
    return { settings: { ...settings, nextId }, torrents }
  })

  const encodeJson = <S extends Schema.Codec<unknown, string>>(schema: S, value: S["Type"], file: string) =>
    Schema.encodeEffect(schema)(value).pipe(
      Effect.map((text) => new TextEncoder().encode(text)),
      Effect.mapError(fail("encode", file))
    )

  const store: StateStore = {
    root,
    resumeDirectory,
    load,
    saveSettings: (settings) =>
      Effect.gen(function*() {
        const file = path.join(root, "settings.json")
        yield* writeAtomic(file, yield* encodeJson(SettingsJson, settings, file))
      }),
    saveTorrent: (record, torrent) =>
      Effect.gen(function*() {
        if (!isCanonicalInfoHash(record.infoHash)) return yield* new DaemonError({ reason: "State", detail: `bad info-hash ${record.infoHash}` })
        if (torrent !== undefined) yield* writeAtomic(torrentFile(record.infoHash), torrent)
        const file = recordFile(record.infoHash)
        yield* writeAtomic(file, yield* encodeJson(RecordJson, record, file))
      }),
    removeTorrent: (hash) =>
      Effect.gen(function*() {
        if (!isCanonicalInfoHash(hash)) return
        yield* removeIfThere(recordFile(hash))
        yield* removeIfThere(torrentFile(hash))
        yield* removeIfThere(path.join(resumeDirectory, `${hash}.resume`))
      }),
    removeResume: (hash) => isCanonicalInfoHash(hash) ? removeIfThere(path.join(resumeDirectory, `${hash}.resume`)) : Effect.void
  }
  return store
})
