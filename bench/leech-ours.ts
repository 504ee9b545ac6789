/**
 * Our side of `npm run bench`: one process, one download, one JSON line.
 *
 *   node bench/leech-ours.ts TORRENT OUT_DIR SEED_PORT
 *
 * The client runs with its default configuration (only the listen address changed to
 * loopback) and dials the seeder directly. Timing runs from just before `add` to
 * `whenComplete`, the same span the libtorrent leecher measures. The process exits
 * once the client's layer has closed (files flushed), so the caller can hash the output.
 */
import { Clock, Effect, Layer, SubscriptionRef } from "effect"
import { readFileSync } from "node:fs"
import { Client } from "../src/client/index.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { FileStorage } from "../src/storage/index.ts"

const [torrentPath, outDir, seedPort] = process.argv.slice(2)
if (torrentPath === undefined || outDir === undefined || seedPort === undefined) {
  console.error("usage: node bench/leech-ours.ts TORRENT OUT_DIR SEED_PORT")
  process.exit(2)
}

const clientLayer = Client.layer({ host: "127.0.0.1", port: 0, downloadDirectory: outDir }).pipe(
  Layer.provide(Layer.mergeAll(NodeNetwork.layer, FileStorage.layer))
)

const program = Effect.gen(function*() {
  const client = yield* Client
  const bytes = new Uint8Array(readFileSync(torrentPath))
  const start = yield* Clock.currentTimeNanos
  const torrent = yield* client.add(bytes, { peers: [{ host: "127.0.0.1", port: Number(seedPort) }] })
  yield* torrent.whenComplete.pipe(Effect.timeout("1 hour"))
  const end = yield* Clock.currentTimeNanos
  return { torrent, seconds: Number(end - start) / 1e9 }
}).pipe(
  Effect.provide(clientLayer),
  // The state is republished when the torrent closes with the layer, so this one is final.
  Effect.flatMap(({ seconds, torrent }) =>
    Effect.map(SubscriptionRef.get(torrent.state), (state) => ({
      seconds,
      bytes: state.wantedBytes,
      pieces: state.piecesVerified,
      pieceCount: state.pieceCount,
      status: state.status
    }))
  )
)

Effect.runPromise(program).then(
  (result) => {
    console.log(JSON.stringify(result))
    process.exit(0)
  },
  (error: unknown) => {
    console.error("leech-ours failed:", error)
    process.exit(1)
  }
)
