/**
 * Up-front checks of the directories `download` writes to and `seed` reads from, so a wrong
 * path is one clear line before the client starts, instead of a raw `EEXIST` from mkdir, an
 * internal log line, or a "seeder" quietly downloading everything at 0%.
 */
import { Effect, FileSystem } from "effect"
import { join } from "node:path"
import type { Metainfo } from "../metainfo/model.ts"
import { CliInputError, describePlatformError } from "./errors.ts"

/** `--out DIR`: a directory we can write to (created when missing, as the client would). */
export const checkOutDirectory = Effect.fn("checkOutDirectory")(function*(flag: string, dir: string) {
  const fs = yield* FileSystem.FileSystem
  const bad = (detail: string) => new CliInputError({ subject: `${flag} ${dir}`, detail })
  const info = yield* fs.stat(dir).pipe(Effect.option)
  if (info._tag === "Some" && info.value.type !== "Directory") return yield* bad("is a file, not a directory")
  if (info._tag === "None") yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError((e) => bad(`cannot create it: ${describePlatformError(e)}`)))
  yield* fs.access(dir, { writable: true }).pipe(Effect.mapError(() => bad("is not writable (the downloaded files and the resume data go there)")))
})

/** How many of the torrent's files to name in the error when none is found. */
const NAMED = 2

/**
 * `seed x.torrent --data DIR`: at least one of the torrent's files must be there. Missing
 * ones are downloaded meanwhile (the README says so), but none at all means the wrong
 * directory: seeding would start at 0% and fetch everything.
 */
export const checkSeedData = Effect.fn("checkSeedData")(function*(dir: string, meta: Metainfo) {
  const fs = yield* FileSystem.FileSystem
  const files = meta.files.filter((f) => !f.padding && f.length > 0)
  for (const f of files) {
    if (yield* fs.exists(join(dir, ...f.path)).pipe(Effect.orElseSucceed(() => false))) return
  }
  const looked = files.slice(0, NAMED).map((f) => join(dir, ...f.path))
  const more = files.length > NAMED ? ` and ${files.length - NAMED} more` : ""
  return yield* new CliInputError({
    subject: `--data ${dir}`,
    detail: `none of the torrent's files is there (looked for ${looked.join(", ")}${more}); ` +
      `point --data at the directory that holds ${files.length === 1 && meta.files.length === 1 ? `"${meta.name}"` : `the "${meta.name}" folder`}`
  })
})
