/** The native API's handlers: each one a call on the `Daemon` service, its errors mapped to statuses. */
import { Effect, Layer, Redacted } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import type { FilePriority } from "../torrent/index.ts"
import { BadRequest, Conflict, DaemonApi, Failed, Forbidden, NotFound, Token } from "./api.ts"
import type { DaemonError } from "./errors.ts"
import type { Limits } from "./model.ts"
import { Daemon } from "./service.ts"
import { detailOf, filesOf, peersOf, summaryOf } from "./views.ts"
import { safeEqual } from "./security.ts"

const toHttp = (e: DaemonError) => {
  switch (e.reason) {
    case "NotFound":
      return new NotFound({ message: e.message })
    case "BadRequest":
      return new BadRequest({ message: e.message })
    case "Duplicate":
      return new Conflict({ message: e.message })
    case "Client":
      return new BadRequest({ message: e.message })
    default:
      return new Failed({ message: e.message })
  }
}

const http = <A, R>(effect: Effect.Effect<A, DaemonError, R>) => Effect.mapError(effect, toHttp)

const decodeBase64 = (text: string) => {
  const bytes = Buffer.from(text, "base64")
  return bytes.length === 0 ? undefined : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

export const TorrentsHandlers = HttpApiBuilder.group(
  DaemonApi,
  "torrents",
  Effect.fn(function*(handlers) {
    const daemon = yield* Daemon
    const limitsOf = (e: { readonly record: { readonly uploadLimit: number | null; readonly downloadLimit: number | null } }): typeof Limits.Type =>
      ({ upload: e.record.uploadLimit, download: e.record.downloadLimit })
    return handlers.handleAll({
      list: () => Effect.flatMap(daemon.entries, (entries) => Effect.forEach(entries, summaryOf)),
      add: ({ payload }) =>
        Effect.gen(function*() {
          const given = [payload.magnet, payload.url, payload.torrent].filter((x) => x !== undefined)
          if (given.length !== 1) return yield* new BadRequest({ message: "give exactly one of magnet, url, torrent" })
          const bytes = payload.torrent === undefined ? undefined : decodeBase64(payload.torrent)
          if (payload.torrent !== undefined && bytes === undefined) return yield* new BadRequest({ message: "torrent is not base64" })
          const source = payload.magnet !== undefined
            ? { _tag: "Magnet" as const, uri: payload.magnet }
            : payload.url !== undefined
            ? { _tag: "Url" as const, url: payload.url }
            : { _tag: "Torrent" as const, bytes: bytes ?? new Uint8Array(0) }
          const entry = yield* http(daemon.add({
            source,
            ...(payload.paused === undefined ? {} : { paused: payload.paused }),
            ...(payload.files === undefined ? {} : { files: payload.files }),
            ...(payload.trace === undefined ? {} : { trace: payload.trace })
          }))
          return yield* summaryOf(entry)
        }),
      upload: ({ payload, query }) =>
        http(daemon.add({ source: { _tag: "Torrent", bytes: payload }, paused: query.paused === "true" })).pipe(Effect.flatMap(summaryOf)),
      get: ({ params }) => http(daemon.entry(params.infoHash)).pipe(Effect.flatMap(detailOf)),
      pause: ({ params }) => http(daemon.pause(params.infoHash)),
      resume: ({ params }) => http(daemon.resume(params.infoHash)),
      verify: ({ params }) => http(daemon.verify(params.infoHash)),
      setTrace: ({ params, payload }) => http(daemon.setTrace(params.infoHash, payload.enabled)),
      remove: ({ params, query }) => http(daemon.remove(params.infoHash, query.deleteData === "true")),
      files: ({ params }) => http(daemon.torrent(params.infoHash)).pipe(Effect.flatMap(filesOf)),
      setFiles: ({ params, payload }) =>
        Effect.gen(function*() {
          const torrent = yield* http(daemon.torrent(params.infoHash))
          const current = yield* torrent.priorities
          const given = payload.priorities
          let next: Array<FilePriority>
          if (Array.isArray(given)) {
            next = [...given]
          } else {
            next = [...current]
            for (const [key, priority] of Object.entries(given)) {
              const index = Number(key)
              if (!Number.isInteger(index) || index < 0 || index >= next.length) {
                return yield* new BadRequest({ message: `no file ${key}` })
              }
              next[index] = priority
            }
          }
          yield* http(daemon.setPriorities(params.infoHash, next))
          return yield* filesOf(torrent)
        }),
      setLimits: ({ params, payload }) =>
        http(daemon.setLimits(payload, params.infoHash)).pipe(
          Effect.andThen(http(daemon.entry(params.infoHash))),
          Effect.map(limitsOf)
        ),
      peers: ({ params }) => http(daemon.torrent(params.infoHash)).pipe(Effect.flatMap(peersOf)),
      trackers: ({ params }) => http(daemon.entry(params.infoHash)).pipe(Effect.flatMap(detailOf), Effect.map((d) => d.trackers)),
      pieces: ({ params }) =>
        http(daemon.entry(params.infoHash)).pipe(Effect.flatMap(detailOf), Effect.map((d) => ({ pieceCount: d.pieceCount, bitfield: d.pieces })))
    })
  })
)

export const SessionHandlers = (info: { readonly version: string; readonly peerPort: number | null }) =>
  HttpApiBuilder.group(
    DaemonApi,
    "session",
    Effect.fn(function*(handlers) {
      const daemon = yield* Daemon
      return handlers.handleAll({
        get: () =>
          Effect.gen(function*() {
            const summaries = yield* Effect.flatMap(daemon.entries, (entries) => Effect.forEach(entries, summaryOf))
            return {
              version: info.version,
              peerPort: info.peerPort,
              downloadDirectory: daemon.downloadDirectory,
              limits: yield* daemon.limits,
              downloadRate: summaries.reduce((n, s) => n + s.downloadRate, 0),
              uploadRate: summaries.reduce((n, s) => n + s.uploadRate, 0),
              torrents: summaries.length
            }
          }),
        setLimits: ({ payload }) => http(daemon.setLimits(payload)).pipe(Effect.andThen(daemon.limits))
      })
    })
  )

/** The token check behind every native endpoint. */
export const TokenLayer = (token: string) =>
  Layer.succeed(Token, {
    token: (effect, { credential }) =>
      safeEqual(Redacted.value(credential), token) ? effect : Effect.fail(new Forbidden({ message: "missing or wrong X-Effect-Torrent-Token" }))
  })
