/**
 * `GET /api/torrents/{infoHash}/files/{index}`: a file's bytes over HTTP, while it downloads.
 *
 * The file is chosen by its index in the torrent, never by a path from the request. One
 * `Range` (`bytes=a-b`, `bytes=a-`, `bytes=-n`) answers 206 with `Content-Range`; a range
 * outside the file answers 416; no range (or several, which we do not serve) answers the
 * whole file with 200. The body is `torrent.file(i).stream`, so pieces not downloaded yet
 * are fetched first and waited for.
 */
import { Effect, Option, Stream } from "effect"
import { HttpRouter, HttpServerResponse, Mime } from "effect/http"
import { plainText, refusedWithoutToken } from "./security.ts"
import { Daemon } from "./service.ts"

export type RangeResult =
  | { readonly _tag: "Whole" }
  | { readonly _tag: "Partial"; readonly start: number; readonly end: number }
  | { readonly _tag: "Unsatisfiable" }

/** RFC 9110 byte ranges, one range only (a multi-range request gets the whole file). */
export const parseRange = (header: string | undefined, size: number): RangeResult => {
  if (header === undefined) return { _tag: "Whole" }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null) return { _tag: "Whole" }
  const [first, last] = [m[1] ?? "", m[2] ?? ""]
  if (first === "" && last === "") return { _tag: "Whole" }
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return { _tag: "Unsatisfiable" }
    return { _tag: "Partial", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1)
  if (!Number.isSafeInteger(start) || start >= size || end < start) return { _tag: "Unsatisfiable" }
  return { _tag: "Partial", start, end }
}

/** Media types torrents often carry that Effect's standard table leaves out. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  mkv: "video/x-matroska",
  mka: "audio/x-matroska",
  avi: "video/x-msvideo",
  flv: "video/x-flv",
  wmv: "video/x-ms-wmv",
  m4v: "video/x-m4v",
  flac: "audio/flac",
  srt: "application/x-subrip"
}

/** Content-Type from the file name's extension. */
export const contentTypeOf = (name: string): string =>
  Option.getOrElse(Mime.getType(name), () => MEDIA_TYPES[name.slice(name.lastIndexOf(".") + 1).toLowerCase()] ?? "application/octet-stream")


export const streamRoute = (token: string) =>
  HttpRouter.add("GET", "/api/torrents/:infoHash/files/:index", (request) =>
    Effect.gen(function*() {
      const refused = refusedWithoutToken(request, token)
      if (refused !== undefined) return refused
      const params = yield* HttpRouter.params
      const daemon = yield* Daemon
      const torrent = yield* daemon.torrent(params["infoHash"] ?? "").pipe(Effect.option)
      if (Option.isNone(torrent)) return plainText(404, "no such torrent")
      const index = Number(params["index"])
      const meta = torrent.value.metainfo
      const entry = Number.isSafeInteger(index) && index >= 0 ? meta.files[index] : undefined
      if (entry === undefined || entry.padding) return plainText(404, "no such file")
      const file = torrent.value.file(index)
      const size = file.length
      const name = entry.path.at(-1) ?? "file"
      const headers = {
        "accept-ranges": "bytes",
        "content-disposition": `inline; filename*=UTF-8''${encodeURIComponent(name)}`,
        "cache-control": "no-store"
      }
      const contentType = contentTypeOf(name)
      const range = parseRange(request.headers["range"], size)
      if (range._tag === "Unsatisfiable") return plainText(416, "range not satisfiable", { "content-range": `bytes */${size}` })
      const [start, end, status] = range._tag === "Partial" ? [range.start, range.end, 206] : [0, size - 1, 200]
      const body = size === 0 ? Stream.empty : file.stream({ start, end }).pipe(Stream.orDie)
      return HttpServerResponse.stream(body, {
        status,
        contentType,
        contentLength: size === 0 ? 0 : end - start + 1,
        headers: range._tag === "Partial" ? { ...headers, "content-range": `bytes ${start}-${end}/${size}` } : headers
      })
    }))

