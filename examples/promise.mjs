// The Promise facade, for code outside Effect.
// Run: node examples/promise.mjs path/to/file.torrent [download-dir] [HOST:PORT of a peer]...
// A trackerless torrent needs a peer (or `dht: {}` in the config); after 30 s without one the
// client logs a warning saying why there may be none.
import { createClient, parseAddress } from "../src/index.ts"

const [torrentPath = "file.torrent", directory = "downloads", ...peerArgs] = process.argv.slice(2)
const peers = peerArgs.map((raw) => {
  const address = parseAddress(raw)
  if (address === undefined) throw new Error(`expected HOST:PORT, got ${raw}`)
  return address
})
const client = await createClient({ downloadDirectory: directory, port: 0 })
try {
  const torrent = await client.add(torrentPath, { peers })
  const stop = torrent.onState((s) => console.log(`${(s.progress * 100).toFixed(1)}%  ${s.peers} peers`))
  await torrent.whenComplete()
  stop()
  console.log(`done: ${torrent.name}`)
} finally {
  await client.close()
}
