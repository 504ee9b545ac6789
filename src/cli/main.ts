/**
 * The `effect-torrent` executable: composes the root command from one file per
 * subcommand. To add a command, write src/cli/<name>.ts exporting a
 * `Command.make(...)` and list it in `subcommands` below; fail with typed
 * errors whose `message` is the one line to show (see errors.ts).
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { VERSION } from "../version.ts"
import { createCommand } from "./create.ts"
import { downloadCommand } from "./download.ts"
import { runCliMain } from "./errors.ts"
import { infoCommand } from "./info.ts"
import { seedCommand } from "./seed.ts"
import { simulateCommand } from "./simulate.ts"

const subcommands = [infoCommand, createCommand, downloadCommand, seedCommand, simulateCommand] as const

export const cli = Command.make("effect-torrent").pipe(
  Command.withDescription("a BitTorrent client on Effect"),
  Command.withSubcommands(subcommands)
)

export const program = (args: ReadonlyArray<string>) =>
  Command.runWith(cli, { version: VERSION })(args).pipe(Effect.provide(NodeServices.layer))

/** Runs the CLI on this process's arguments; sets the exit code (0 ok, 1 error, 130 interrupted). */
export const main = (): void => runCliMain(program(process.argv.slice(2)))

// `node src/cli/main.ts ...` (npm run cli); bin/effect-torrent.js calls main() itself.
if (import.meta.main) main()
