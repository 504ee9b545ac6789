/**
 * `effect-torrent download <file.torrent> [--out DIR] [--select 1,3-5] [--sequential]
 *  [--max-peers N] [--port N] [--peer HOST:PORT]... [--seed] [--json]`
 *
 * Exits 0 once every wanted piece is verified (unless `--seed`). Ctrl-C closes the
 * client's scope: sessions end, trackers get a `stopped` announce, resume data is saved
 * and files are closed; running the same command again resumes.
 */
import { Console, Effect, Logger, Option, SubscriptionRef } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Client, layerNode } from "../client/index.ts"
import type { Torrent, TorrentState } from "../torrent/index.ts"
import { CliInputError } from "./errors.ts"
import { readTorrentFile } from "./info.ts"
import { parsePeerAddress, parseSelection, renderJsonLine, renderPlainLine, renderStatusLine } from "./status-view.ts"

export type OutputMode = "tty" | "plain" | "json"

const PLAIN_EVERY_SECONDS = 5
const NO_PEERS_WARNING_SECONDS = 30

/** Shows the torrent's state until interrupted: redrawn each second, a plain line every few, or JSON lines. */
export const watchProgress = (torrent: Torrent, mode: OutputMode) =>
  Effect.gen(function*() {
    let tick = 0
    let warned = false
    while (true) {
      const state = SubscriptionRef.getUnsafe(torrent.state)
      if (mode === "json") yield* Console.log(renderJsonLine(state))
      else if (mode === "tty") yield* Effect.sync(() => process.stderr.write(`\r${renderStatusLine(state, process.stderr.columns || 100)}\x1b[K`))
      else if (tick % PLAIN_EVERY_SECONDS === 0) yield* Console.error(renderPlainLine(state))
      if (!warned && tick >= NO_PEERS_WARNING_SECONDS && state.peers === 0 && state.status === "downloading") {
        warned = true
        yield* reportNoPeers(state, mode)
      }
      tick++
      yield* Effect.sleep("1 second")
    }
  })

const reportNoPeers = (state: TorrentState, mode: OutputMode) => {
  const trackers = state.trackers.filter((t) => !t.ok).map((t) => `${t.url}: ${t.message ?? "failed"}`)
  const line = `no peers after ${NO_PEERS_WARNING_SECONDS}s` + (trackers.length > 0 ? ` (${trackers.join("; ")})` : state.trackers.length === 0 ? " (the torrent lists no trackers; try --peer HOST:PORT)" : "")
  return mode === "json"
    ? Console.log(JSON.stringify({ type: "warning", message: line }))
    : Console.error(`${mode === "tty" ? "\n" : ""}warning: ${line}`)
}

export const outputMode = (json: boolean): OutputMode => json ? "json" : process.stderr.isTTY ? "tty" : "plain"

export const downloadCommand = Command.make(
  "download",
  {
    torrent: Argument.String("torrent").pipe(Argument.withDescription(".torrent file")),
    out: Flag.String("out").pipe(Flag.withAlias("o"), Flag.withDescription("download directory (default: .)"), Flag.withDefault(".")),
    select: Flag.String("select").pipe(Flag.withDescription("files to download, by number as `info` lists them: 1,3-5"), Flag.optional),
    sequential: Flag.Boolean("sequential").pipe(Flag.withDescription("download pieces in order (streaming)"), Flag.withDefault(false)),
    maxPeers: Flag.Int("max-peers").pipe(Flag.withDescription("connections for this torrent"), Flag.withDefault(50)),
    port: Flag.Int("port").pipe(Flag.withAlias("p"), Flag.withDescription("port to accept peers on (0 = any)"), Flag.withDefault(6881)),
    peer: Flag.String("peer").pipe(Flag.withDescription("also connect to this peer, HOST:PORT; repeatable"), Flag.atLeast(0)),
    seed: Flag.Boolean("seed").pipe(Flag.withDescription("keep seeding after the download completes"), Flag.withDefault(false)),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print one JSON object per line"), Flag.withDefault(false))
  },
  Effect.fn("cli.download")(function*(args) {
    const meta = yield* readTorrentFile(args.torrent)
    const fileCount = meta.files.length
    const select = Option.isSome(args.select) ? parseSelection(args.select.value, fileCount) : undefined
    if (Option.isSome(args.select) && select === undefined) {
      return yield* new CliInputError({ subject: "--select", detail: `expected file numbers between 1 and ${fileCount}, like 1,3-5; got ${JSON.stringify(args.select.value)}` })
    }
    const peers: Array<{ readonly host: string; readonly port: number }> = []
    for (const raw of args.peer) {
      const address = parsePeerAddress(raw)
      if (address === undefined) return yield* new CliInputError({ subject: "--peer", detail: `expected HOST:PORT, got ${JSON.stringify(raw)}` })
      peers.push(address)
    }
    if (args.maxPeers < 1) return yield* new CliInputError({ subject: "--max-peers", detail: "must be at least 1" })
    if (args.port < 0 || args.port > 65535) return yield* new CliInputError({ subject: "--port", detail: "must be between 0 and 65535" })
    const mode = outputMode(args.json)

    yield* Effect.gen(function*() {
      const client = yield* Client
      const torrent = yield* client.add(meta, { ...(select === undefined ? {} : { select }), sequential: args.sequential, peers })
      yield* Effect.forkChild(watchProgress(torrent, mode))
      yield* torrent.whenComplete
      const done = SubscriptionRef.getUnsafe(torrent.state)
      if (mode === "json") yield* Console.log(JSON.stringify({ type: "complete", infoHash: done.infoHash, name: done.name, bytes: done.wantedBytes }))
      else yield* Console.error(`${mode === "tty" ? "\n" : ""}${done.name}: complete, ${done.piecesVerified}/${done.pieceCount} pieces verified`)
      if (!args.seed) return
      if (mode !== "json") yield* Console.error("seeding; press Ctrl-C to stop")
      yield* Effect.never
    }).pipe(
      Effect.provide(layerNode({ downloadDirectory: args.out, port: args.port, maxPeersPerTorrent: args.maxPeers })),
      // Logs go to stderr: stdout is for results (and JSON lines).
      Effect.provide(Logger.layer([Logger.withConsoleError(Logger.formatSimple)]))
    )
  })
).pipe(Command.withDescription("download a torrent (and keep seeding with --seed)"))
