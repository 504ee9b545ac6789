/**
 * `effect-torrent info <file.torrent | magnet-uri> [--json]`
 */
import { Console, Effect, FileSystem } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type MagnetError, type MetainfoError, parseMagnet, parseMetainfo } from "../metainfo/index.ts"
import { CliInputError, fsError } from "./errors.ts"
import { formatBytes } from "./units.ts"
import { magnetJson, magnetLines, torrentJson, torrentLines } from "./info-render.ts"

/** Larger than any real .torrent (the biggest public ones are a few MiB); bounds what we read into memory. */
export const MAX_TORRENT_FILE = 64 * 1024 * 1024

/** "not a torrent" when the bytes are not a bencoded dict at all; "invalid torrent" when the dict is wrong. */
export const torrentProblem = (e: MetainfoError): string =>
  e.reason === "InvalidBencode" || e.reason === "NotADict" ? `not a torrent (${e.message})` : `invalid torrent (${e.message})`

/** Reads and parses a .torrent file; every failure is a one-line CliInputError about `path`. */
export const readTorrentFile = Effect.fn("readTorrentFile")(function*(path: string) {
  const fs = yield* FileSystem.FileSystem
  const info = yield* fs.stat(path).pipe(Effect.mapError(fsError(path)))
  if (info.type === "Directory") return yield* new CliInputError({ subject: path, detail: "is a directory, not a .torrent file" })
  // A FIFO or device would block or never end: only regular files (links are followed by stat).
  if (info.type !== "File") return yield* new CliInputError({ subject: path, detail: `not a regular file (${info.type})` })
  if (info.size > BigInt(MAX_TORRENT_FILE)) {
    return yield* new CliInputError({
      subject: path,
      detail: `not a torrent (${formatBytes(Number(info.size))} is too large for a .torrent file)`
    })
  }
  const bytes = yield* fs.readFile(path).pipe(Effect.mapError(fsError(path)))
  return yield* parseMetainfo(bytes).pipe(
    Effect.mapError((e) => new CliInputError({ subject: path, detail: torrentProblem(e) }))
  )
})

export const isMagnetArgument = (s: string): boolean => s.slice(0, 7).toLowerCase() === "magnet:"

// MagnetError messages already read "invalid magnet link: ...".
const magnetProblem = (e: MagnetError) => new CliInputError({ subject: "", detail: e.message })

export const infoCommand = Command.make(
  "info",
  {
    source: Argument.String("torrent").pipe(Argument.withDescription(".torrent file or magnet: URI")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print one JSON object"), Flag.withDefault(false))
  },
  Effect.fn("cli.info")(function*({ json, source }) {
    if (isMagnetArgument(source)) {
      const magnet = yield* parseMagnet(source).pipe(Effect.mapError(magnetProblem))
      yield* Console.log(json ? JSON.stringify(magnetJson(magnet)) : magnetLines(magnet).join("\n"))
    } else {
      const metainfo = yield* readTorrentFile(source)
      yield* Console.log(json ? JSON.stringify(torrentJson(metainfo)) : torrentLines(metainfo).join("\n"))
    }
  })
).pipe(Command.withDescription("show what a .torrent file or a magnet link contains"))
