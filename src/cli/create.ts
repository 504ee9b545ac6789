/**
 * `effect-torrent create <path> [-o out.torrent] [--tracker URL]... [--web-seed URL]...
 *  [--piece-length SIZE] [--private] [--comment C] [--name N] [--date] [--force] [--v2 | --hybrid]`
 *
 * Each `--tracker` is one tier; "url1,url2" puts several URLs in the same tier
 * (BEP 12 tries a tier's URLs in random order, tiers in sequence).
 */
import { basename, resolve } from "node:path"
import { Clock, Console, Effect, FileSystem, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { createTorrent, isValidPieceLength } from "../metainfo/create.ts"
import { CliInputError, fsError } from "./errors.ts"
import { toHex } from "../bytes.ts"
import { formatBytes, parseSize } from "./units.ts"
import { makeProgressBar } from "./progress.ts"
import { magnetOf } from "./info-render.ts"

/** `--tracker` values → tiers: one tier per flag, commas split a flag into several URLs of the same tier. */
export const trackerTiers = (values: ReadonlyArray<string>): ReadonlyArray<ReadonlyArray<string>> =>
  values.map((v) => v.split(",").map((u) => u.trim()).filter((u) => u !== "")).filter((tier) => tier.length > 0)

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

const parsePieceLength = (raw: string): Effect.Effect<number, CliInputError> => {
  const n = parseSize(raw)
  return n !== undefined && isValidPieceLength(n)
    ? Effect.succeed(n)
    : Effect.fail(
      new CliInputError({
        subject: "--piece-length",
        detail: `invalid piece length ${JSON.stringify(raw)}: expected a power of two between 16KiB and 128MiB`
      })
    )
}

export const createCommand = Command.make(
  "create",
  {
    path: Argument.String("path").pipe(Argument.withDescription("file or directory to share")),
    output: Flag.String("output").pipe(
      Flag.withAlias("o"),
      Flag.withDescription("where to write the .torrent (default: <name>.torrent)"),
      Flag.optional
    ),
    tracker: Flag.String("tracker").pipe(
      Flag.withAlias("t"),
      Flag.withDescription("announce URL; repeat for more tiers, \"url1,url2\" for several URLs in one tier"),
      Flag.atLeast(0)
    ),
    webSeed: Flag.String("web-seed").pipe(
      Flag.withAlias("w"),
      Flag.withDescription("web seed URL (BEP 19); repeatable"),
      Flag.atLeast(0)
    ),
    pieceLength: Flag.String("piece-length").pipe(
      Flag.withAlias("l"),
      Flag.withDescription("piece size, e.g. 256KiB, 1M or 262144 (default: automatic, ~1000-2000 pieces)"),
      Flag.optional
    ),
    private: Flag.Boolean("private").pipe(Flag.withDescription("set the private flag (BEP 27)"), Flag.withDefault(false)),
    comment: Flag.String("comment").pipe(Flag.withAlias("c"), Flag.withDescription("free text stored in the torrent (shown by info)"), Flag.optional),
    name: Flag.String("name").pipe(Flag.withDescription("torrent name (default: the file/directory name)"), Flag.optional),
    date: Flag.Boolean("date").pipe(
      Flag.withDescription("record the current time as creation date (off by default: reproducible output)"),
      Flag.withDefault(false)
    ),
    v2: Flag.Boolean("v2").pipe(
      Flag.withDescription("make a v2-only torrent (BEP 52: SHA-256 merkle trees; older clients cannot read it)"),
      Flag.withDefault(false)
    ),
    hybrid: Flag.Boolean("hybrid").pipe(
      Flag.withDescription("make a hybrid torrent: v1 and v2 (BEP 52) over the same data, readable by every client"),
      Flag.withDefault(false)
    ),
    force: Flag.Boolean("force").pipe(
      Flag.withAlias("f"),
      Flag.withDescription("overwrite the output file"),
      Flag.withDefault(false)
    )
  },
  Effect.fn("cli.create")(function*(args) {
    const fs = yield* FileSystem.FileSystem
    if (args.v2 && args.hybrid) {
      return yield* new CliInputError({ subject: "--v2", detail: "--v2 and --hybrid exclude each other (a hybrid already holds v2)" })
    }
    const pieceLength = Option.isSome(args.pieceLength) ? yield* parsePieceLength(args.pieceLength.value) : undefined
    const name = Option.getOrUndefined(args.name)
    const output = Option.getOrElse(args.output, () => `${name ?? basename(resolve(args.path))}.torrent`)
    if (!args.force && (yield* fs.exists(output).pipe(Effect.mapError(fsError(output))))) {
      return yield* new CliInputError({ subject: output, detail: "already exists (use --force to overwrite)" })
    }
    const creationDate = args.date ? Math.floor((yield* Clock.currentTimeMillis) / 1000) : undefined
    const bar = yield* makeProgressBar("hashing")
    const created = yield* createTorrent(args.path, {
      pieceLength,
      format: args.v2 ? "v2" : args.hybrid ? "hybrid" : "v1",
      trackers: trackerTiers(args.tracker),
      webSeeds: args.webSeed,
      private: args.private,
      comment: Option.getOrUndefined(args.comment),
      name,
      creationDate,
      onProgress: (p) => bar.update(p.hashedBytes, p.totalBytes)
    }).pipe(Effect.ensuring(bar.finish))
    yield* fs.writeFile(output, created.torrent).pipe(Effect.mapError(fsError(output)))
    const m = created.metainfo
    const real = m.files.filter((f) => !f.padding)
    const files = real.length
    // v2 and hybrid pad files to piece boundaries: report the payload, not the padded span
    const payload = real.reduce((n, f) => n + f.length, 0)
    yield* Console.log(
      `${output}: ${plural(files, "file")}, ${formatBytes(payload)} in ${plural(m.pieceCount, "piece")} of ${
        formatBytes(m.pieceLength)
      }`
    )
    if (m.infoHash !== null) yield* Console.log(`info hash: ${toHex(m.infoHash)}`)
    if (m.infoHashV2 !== null) yield* Console.log(`info hash v2: ${toHex(m.infoHashV2)}`)
    yield* Console.log(`magnet: ${magnetOf(m)}`)
  })
).pipe(Command.withDescription("create a .torrent (BitTorrent v1, or v2/hybrid with --v2/--hybrid) from a file or a directory"))
