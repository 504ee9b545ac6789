/**
 * Transmission's RPC at `POST /transmission/rpc`, so that transmission-remote, the
 * Transmission remote GUIs and the *arr apps can drive the daemon.
 *
 * The CSRF guard is Transmission's own: a request without the current
 * `X-Transmission-Session-Id` gets 409 with the id in that header, and the client repeats
 * the request with it (a foreign page cannot read that header, nor send it without a CORS
 * pre-flight). Methods: session-get/set/stats, torrent-get/add/start/stop/remove/verify/set
 * (plus the `-now` variants of start). Limits are in KB/s, as Transmission's are.
 */
import { randomBytes } from "node:crypto"
import { Effect, Schema } from "effect"
import { CLIENT_VERSION } from "../../version.ts"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { FilePriority } from "../../torrent/index.ts"
import { DaemonError } from "../errors.ts"
import { safeEqual } from "../security.ts"
import { type AddSource, Daemon, type DaemonService, MAX_TORRENT_BYTES } from "../service.ts"
import type { Entry } from "../views.ts"
import { summaryOf } from "../views.ts"
import { allFields } from "./fields.ts"

export const SESSION_HEADER = "x-transmission-session-id"
const RPC_VERSION = 17

const RpcRequest = Schema.Struct({
  method: Schema.String,
  arguments: Schema.optional(Schema.Record(Schema.String, Schema.Unknown)),
  tag: Schema.optional(Schema.Unknown)
})
const decodeRequest = Schema.decodeUnknownEffect(Schema.fromJsonString(RpcRequest))

type Args = Readonly<Record<string, unknown>>

const bad = (detail: string) => new DaemonError({ reason: "BadRequest", detail })

const numbers = (value: unknown): ReadonlyArray<number> =>
  Array.isArray(value) ? value.filter((x): x is number => typeof x === "number" && Number.isInteger(x)) : []

/** `ids`: absent = all; a number, a hash, or a list of both ("recently-active" = all). */
const select = (daemon: DaemonService, ids: unknown): Effect.Effect<ReadonlyArray<Entry>> =>
  Effect.map(daemon.entries, (entries) => {
    if (ids === undefined || ids === "recently-active") return entries
    const wanted = Array.isArray(ids) ? ids : [ids]
    return entries.filter((e) => wanted.some((id) => id === e.record.id || (typeof id === "string" && id.toLowerCase() === e.record.infoHash)))
  })

const kbps = (enabled: unknown, value: unknown): number | null | undefined =>
  enabled === false ? null : typeof value === "number" && enabled !== undefined ? value * 1024 : undefined

const sessionGet = (daemon: DaemonService, peerPort: number | null) =>
  Effect.map(daemon.limits, (limits) => ({
    version: `3.00 (${CLIENT_VERSION})`,
    "rpc-version": RPC_VERSION,
    "rpc-version-minimum": 14,
    "download-dir": daemon.downloadDirectory,
    "peer-port": peerPort ?? 0,
    "speed-limit-down": limits.download === null ? 0 : Math.round(limits.download / 1024),
    "speed-limit-down-enabled": limits.download !== null,
    "speed-limit-up": limits.upload === null ? 0 : Math.round(limits.upload / 1024),
    "speed-limit-up-enabled": limits.upload !== null,
    "alt-speed-enabled": false,
    "dht-enabled": false,
    "pex-enabled": true,
    "utp-enabled": false,
    encryption: "tolerated",
    "seedRatioLimited": false,
    "start-added-torrents": true,
    units: {
      "speed-units": ["kB/s", "MB/s", "GB/s", "TB/s"],
      "speed-bytes": 1000,
      "size-units": ["kB", "MB", "GB", "TB"],
      "size-bytes": 1000,
      "memory-units": ["KiB", "MiB", "GiB", "TiB"],
      "memory-bytes": 1024
    }
  }))

const addSource = (args: Args): Effect.Effect<AddSource, DaemonError> => {
  const metainfo = args["metainfo"]
  if (typeof metainfo === "string") {
    const bytes = Buffer.from(metainfo, "base64")
    if (bytes.length === 0 || bytes.length > MAX_TORRENT_BYTES) return Effect.fail(bad("metainfo is empty, too large or not base64"))
    return Effect.succeed({ _tag: "Torrent", bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) })
  }
  const filename = args["filename"]
  if (typeof filename !== "string") return Effect.fail(bad("torrent-add needs filename or metainfo"))
  if (filename.startsWith("magnet:")) return Effect.succeed({ _tag: "Magnet", uri: filename })
  if (/^https?:\/\//i.test(filename)) return Effect.succeed({ _tag: "Url", url: filename })
  return Effect.fail(bad("filename must be a magnet link or an http(s) URL (send local .torrent files as metainfo)"))
}

const handle = (daemon: DaemonService, peerPort: number | null, method: string, args: Args): Effect.Effect<Record<string, unknown>, DaemonError> =>
  Effect.gen(function*() {
    switch (method) {
      case "session-get":
        return yield* sessionGet(daemon, peerPort)
      case "session-set": {
        const down = kbps(args["speed-limit-down-enabled"], args["speed-limit-down"])
        const up = kbps(args["speed-limit-up-enabled"], args["speed-limit-up"])
        yield* daemon.setLimits({ ...(down === undefined ? {} : { download: down }), ...(up === undefined ? {} : { upload: up }) })
        return {}
      }
      case "session-stats": {
        const summaries = yield* Effect.flatMap(daemon.entries, (e) => Effect.forEach(e, summaryOf))
        const totals = {
          uploadedBytes: summaries.reduce((n, s) => n + s.uploaded, 0),
          downloadedBytes: summaries.reduce((n, s) => n + s.downloaded, 0),
          filesAdded: summaries.length,
          sessionCount: 1,
          secondsActive: 0
        }
        return {
          activeTorrentCount: summaries.filter((s) => s.status !== "paused").length,
          pausedTorrentCount: summaries.filter((s) => s.status === "paused").length,
          torrentCount: summaries.length,
          downloadSpeed: Math.round(summaries.reduce((n, s) => n + s.downloadRate, 0)),
          uploadSpeed: Math.round(summaries.reduce((n, s) => n + s.uploadRate, 0)),
          "cumulative-stats": totals,
          "current-stats": totals
        }
      }
      case "torrent-get": {
        const fields = Array.isArray(args["fields"]) ? args["fields"].filter((f): f is string => typeof f === "string") : ["id", "name"]
        const entries = yield* select(daemon, args["ids"])
        const torrents = yield* Effect.forEach(entries, (e) =>
          Effect.map(allFields(e), (all) => Object.fromEntries(fields.flatMap((f) => (f in all ? [[f, all[f]]] : [])))))
        return { torrents, removed: [] }
      }
      case "torrent-add": {
        const source = yield* addSource(args)
        const directory = args["download-dir"]
        const added = yield* daemon.add({
          source,
          paused: args["paused"] === true,
          ...(typeof directory === "string" && directory !== "" ? { directory } : {})
        }).pipe(
          Effect.map((entry) => ["torrent-added", entry] as const),
          Effect.catchIf((e) => e.reason === "Duplicate" && e.infoHash !== undefined, (e) =>
            Effect.map(daemon.entry(e.infoHash ?? ""), (entry) => ["torrent-duplicate", entry] as const))
        )
        const [key, entry] = added
        return { [key]: { id: entry.record.id, name: entry.record.name, hashString: entry.record.infoHash } }
      }
      case "torrent-start":
      case "torrent-start-now":
        yield* Effect.forEach(yield* select(daemon, args["ids"]), (e) => daemon.resume(e.record.infoHash))
        return {}
      case "torrent-stop":
        yield* Effect.forEach(yield* select(daemon, args["ids"]), (e) => daemon.pause(e.record.infoHash))
        return {}
      case "torrent-verify":
        yield* Effect.forEach(yield* select(daemon, args["ids"]), (e) => daemon.verify(e.record.infoHash))
        return {}
      case "torrent-remove":
        yield* Effect.forEach(yield* select(daemon, args["ids"]), (e) => daemon.remove(e.record.infoHash, args["delete-local-data"] === true))
        return {}
      case "torrent-set": {
        for (const e of yield* select(daemon, args["ids"])) yield* torrentSet(daemon, e, args)
        return {}
      }
      default:
        return yield* bad(`method name not recognized: ${method}`)
    }
  })

const torrentSet = (daemon: DaemonService, e: Entry, args: Args) =>
  Effect.gen(function*() {
    const hash = e.record.infoHash
    if (e.torrent !== null) {
      const current = yield* e.torrent.priorities
      const next: Array<FilePriority> = [...current]
      const wantedBefore = (i: number) => (next[i] ?? 1) > 0
      const setAll = (key: string, f: (i: number) => FilePriority) => {
        const given = args[key]
        const list = Array.isArray(given) && given.length === 0 ? next.map((_, i) => i) : numbers(given)
        for (const i of list) if (i >= 0 && i < next.length) next[i] = f(i)
      }
      setAll("files-unwanted", () => 0)
      setAll("files-wanted", (i) => (next[i] === 2 ? 2 : 1))
      setAll("priority-high", (i) => (wantedBefore(i) ? 2 : 0))
      setAll("priority-normal", (i) => (wantedBefore(i) ? 1 : 0))
      setAll("priority-low", (i) => (wantedBefore(i) ? 1 : 0))
      if (next.some((p, i) => p !== current[i])) yield* daemon.setPriorities(hash, next)
    }
    const down = kbps(args["downloadLimited"], args["downloadLimit"])
    const up = kbps(args["uploadLimited"], args["uploadLimit"])
    if (down !== undefined || up !== undefined) {
      yield* daemon.setLimits({ ...(down === undefined ? {} : { download: down }), ...(up === undefined ? {} : { upload: up }) }, hash)
    }
  })

export const transmissionRoute = (peerPort: number | null) => {
  const sessionId = randomBytes(24).toString("base64url")
  const conflict = () =>
    HttpServerResponse.text("<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>", {
      status: 409,
      contentType: "text/html",
      headers: { [SESSION_HEADER]: sessionId }
    })
  return HttpRouter.add("POST", "/transmission/rpc", (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const given = request.headers[SESSION_HEADER]
      if (given === undefined || !safeEqual(given, sessionId)) return conflict()
      const daemon = yield* Daemon
      const body = yield* request.text.pipe(Effect.option)
      if (body._tag === "None") return HttpServerResponse.text("request body too large or unreadable", { status: 413 })
      const decoded = yield* Effect.result(decodeRequest(body.value))
      if (decoded._tag === "Failure") return HttpServerResponse.text("not a JSON-RPC request", { status: 400 })
      const { method, tag } = decoded.success
      const result = yield* Effect.result(handle(daemon, peerPort, method, decoded.success.arguments ?? {}))
      const reply = result._tag === "Success"
        ? { result: "success", arguments: result.success }
        : { result: result.failure.message, arguments: {} }
      return HttpServerResponse.jsonUnsafe(tag === undefined ? reply : { ...reply, tag }, { headers: { [SESSION_HEADER]: sessionId } })
    }))
}
