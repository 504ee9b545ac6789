// Download a torrent from an Effect program, printing progress as it changes.
// Run: node examples/embed.ts path/to/file.torrent [download-dir] [--peer HOST:PORT]... [--dht]
// --peer dials a peer directly (a trackerless torrent needs one, or --dht); --dht joins the
// public DHT through its well-known routers. After 30 s without a peer the client logs a
// warning saying why there may be none.
import { Console, Effect, Stream, SubscriptionRef } from "effect"
import { Client, layerNode, parseAddress } from "../src/index.ts"

const args = process.argv.slice(2)
const flagValues = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1] ?? ""] : []))
const positional = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--peer")
const [torrentPath = "file.torrent", directory = "downloads"] = positional
const peers = flagValues("--peer").map((raw) => {
  const address = parseAddress(raw)
  if (address === undefined) throw new Error(`--peer: expected HOST:PORT, got ${raw}`)
  return address
})

const program = Effect.gen(function*() {
  const client = yield* Client
  const torrent = yield* client.add({ path: torrentPath }, { peers })
  // state is a SubscriptionRef: `changes` streams the current value, then every update.
  yield* SubscriptionRef.changes(torrent.state).pipe(
    Stream.runForEach((s) => Console.log(`${(s.progress * 100).toFixed(1)}%  ${s.peers} peers  ${Math.round(s.downloadRate / 1024)} KiB/s`)),
    Effect.forkChild
  )
  yield* torrent.whenComplete
  yield* Console.log(`done: ${torrent.metainfo.name}`)
})

const config = { downloadDirectory: directory, port: 0, ...(args.includes("--dht") ? { dht: {} } : {}) }
Effect.runPromise(program.pipe(Effect.provide(layerNode(config)))).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
