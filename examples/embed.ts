// Download a torrent from an Effect program, printing progress as it changes.
// Run: node examples/embed.ts path/to/file.torrent [download-dir]
import { Console, Effect, Stream, SubscriptionRef } from "effect"
import { Client, layerNode } from "../src/index.ts"

const [torrentPath = "file.torrent", directory = "downloads"] = process.argv.slice(2)

const program = Effect.gen(function*() {
  const client = yield* Client
  const torrent = yield* client.add({ path: torrentPath })
  // state is a SubscriptionRef: `changes` streams the current value, then every update.
  yield* SubscriptionRef.changes(torrent.state).pipe(
    Stream.runForEach((s) => Console.log(`${(s.progress * 100).toFixed(1)}%  ${s.peers} peers  ${Math.round(s.downloadRate / 1024)} KiB/s`)),
    Effect.forkChild
  )
  yield* torrent.whenComplete
  yield* Console.log(`done: ${torrent.metainfo.name}`)
})

Effect.runPromise(program.pipe(Effect.provide(layerNode({ downloadDirectory: directory, port: 0 })))).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
