/**
 * `effect-torrent download <file.torrent> [--out DIR] [--select 1,3-5] [--sequential]
 *  [--max-peers N] [--port N] [--peer HOST:PORT]... [--seed] [--seed-ratio R] [--seed-time T]
 *  [--upload-limit R] [--download-limit R] [--json]`
 *
 * Exits 0 once every wanted piece is verified (unless `--seed`). Ctrl-C closes the
 * client's scope: sessions end, trackers get a `stopped` announce, resume data is saved
 * and files are closed; running the same command again resumes.
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { checkOutDirectory } from "./directories.ts"
import { CliInputError } from "./errors.ts"
import { parseMagnet } from "../metainfo/index.ts"
import { isMagnetArgument, readTorrentFile } from "./info.ts"
import { planFromArgs, runTorrent, sharedFlags } from "./run-torrent.ts"
import { parseSelection } from "./status-view.ts"

export const downloadCommand = Command.make(
  "download",
  {
    torrent: Argument.String("torrent").pipe(Argument.withDescription(".torrent file or magnet: link")),
    out: Flag.String("out").pipe(Flag.withAlias("o"), Flag.withDescription("download directory (default: .)"), Flag.withDefault(".")),
    select: Flag.String("select").pipe(Flag.withDescription("files to download, by number as `info` lists them: 1,3-5"), Flag.optional),
    sequential: Flag.Boolean("sequential").pipe(Flag.withDescription("download pieces in order (streaming)"), Flag.withDefault(false)),
    seed: Flag.Boolean("seed").pipe(Flag.withDescription("keep seeding after the download completes"), Flag.withDefault(false)),
    ...sharedFlags
  },
  Effect.fn("cli.download")(function*(args) {
    const magnet = isMagnetArgument(args.torrent)
    if (magnet) yield* parseMagnet(args.torrent).pipe(Effect.mapError((e) => new CliInputError({ subject: "", detail: e.message })))
    const meta = magnet ? undefined : yield* readTorrentFile(args.torrent)
    // File numbers of a magnet's torrent are known only once its metadata arrived.
    const fileCount = meta === undefined ? Number.MAX_SAFE_INTEGER : meta.files.length
    const select = Option.isSome(args.select) ? parseSelection(args.select.value, fileCount) : undefined
    if (Option.isSome(args.select) && select === undefined) {
      return yield* new CliInputError({ subject: "--select", detail: `expected file numbers between 1 and ${fileCount}, like 1,3-5; got ${JSON.stringify(args.select.value)}` })
    }
    const plan = yield* planFromArgs(args)
    yield* checkOutDirectory("--out", args.out)
    const seed = args.seed || plan.seedRatio !== undefined || plan.seedTime !== undefined
    yield* runTorrent({
      source: meta ?? { magnet: args.torrent },
      directory: args.out,
      args,
      plan,
      seed,
      add: { ...(select === undefined ? {} : { select }), sequential: args.sequential }
    })
  })
).pipe(Command.withDescription("download a torrent (and keep seeding with --seed)"))
