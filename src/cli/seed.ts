/**
 * `effect-torrent seed <file.torrent> --data DIR [--port N] [--peer HOST:PORT]...
 *  [--seed-ratio R] [--seed-time T] [--upload-limit R] [--json]`
 *
 * Verifies the data in DIR (a progress bar while it hashes; a resume record whose file
 * sizes and times still match skips the work), then seeds until Ctrl-C or the goal.
 * Missing pieces are downloaded from the swarm meanwhile.
 */
import { Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { checkSeedData } from "./directories.ts"
import { readTorrentFile } from "./info.ts"
import { planFromArgs, runTorrent, sharedFlags } from "./run-torrent.ts"

export const seedCommand = Command.make(
  "seed",
  {
    torrent: Argument.String("torrent").pipe(Argument.withDescription(".torrent file")),
    data: Flag.String("data").pipe(Flag.withAlias("d"), Flag.withDescription("directory holding the torrent's files (default: .)"), Flag.withDefault(".")),
    ...sharedFlags
  },
  Effect.fn("cli.seed")(function*(args) {
    const meta = yield* readTorrentFile(args.torrent)
    const plan = yield* planFromArgs(args)
    yield* checkSeedData(args.data, meta)
    yield* runTorrent({ source: meta, directory: args.data, args, plan, seed: true, add: {} })
  })
).pipe(Command.withDescription("verify existing data and seed it"))
