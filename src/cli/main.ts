/**
 * The `effect-torrent` command line: the root command and one module per subcommand,
 * loaded lazily. A run loads only the subcommand it names (start-up is most of
 * `info`'s time, and `download` should reach its peers quickly); `--help`,
 * `--completions` and an unknown name load them all. To add a command, write
 * src/cli/<name>.ts exporting a `Command.make(...)` and add a line to `commands`;
 * fail with typed errors whose `message` is the one line to show (see errors.ts).
 */
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import { Effect, Layer } from "effect"
import { Command } from "effect/cli"
import { VERSION } from "../version.ts"
import { subcommandOf } from "./argv.ts"
import { runCliMain } from "./errors.ts"
import { cliLogger, VERBOSE_FLAG } from "./log.ts"
import { withUsagePresenter } from "./usage.ts"

/** Each subcommand's module, imported on demand (the bundle splits along these imports). */
const commands = {
  demo: () => import("./demo.ts").then((m) => m.demoCommand),
  info: () => import("./info.ts").then((m) => m.infoCommand),
  create: () => import("./create.ts").then((m) => m.createCommand),
  download: () => import("./download.ts").then((m) => m.downloadCommand),
  seed: () => import("./seed.ts").then((m) => m.seedCommand),
  serve: () => import("./serve.ts").then((m) => m.serveCommand),
  simulate: () => import("./simulate.ts").then((m) => m.simulateCommand),
  trace: () => import("./trace.ts").then((m) => m.traceCommand)
}
type Name = keyof typeof commands
const NAMES = Object.keys(commands) as ReadonlyArray<Name>

/** What effect/cli needs to run (files, paths, stdio, the terminal, child processes). */
const services = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

/** The subcommands to load for `args`: the one it names, or all of them. */
const load = (args: ReadonlyArray<string>) => {
  const name = subcommandOf(args, NAMES)
  return Effect.promise(() => Promise.all((name === undefined ? NAMES : [name]).map((n) => commands[n]())))
}

/**
 * Runs the command line `args` (argv after the script), every service provided. Logs are
 * one line each on stderr; `--verbose` (anywhere, taken out before parsing) adds causes
 * with their stack traces.
 */
export const program = (argv: ReadonlyArray<string>) => {
  const verbose = argv.includes(VERBOSE_FLAG)
  const args = argv.filter((a) => a !== VERBOSE_FLAG)
  return Effect.gen(function*() {
    const cli = Command.make("effect-torrent").pipe(
      Command.withDescription("a BitTorrent client on Effect"),
      Command.withSubcommands(yield* load(args))
    )
    yield* Command.runWith(cli, { version: VERSION })(args)
  }).pipe(withUsagePresenter, Effect.provide(Layer.merge(services, cliLogger(verbose))))
}

/** Runs the CLI on this process's arguments; sets the exit code (0 ok, 1 error, 130 interrupted). */
export const main = (): void =>
  runCliMain(program(process.argv.slice(2)), { verbose: process.argv.includes(VERBOSE_FLAG) })

// `node src/cli/main.ts ...` works too; the executable is bin.ts.
if (import.meta.main) main()
