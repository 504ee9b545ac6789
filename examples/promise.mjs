// The Promise facade, for code outside Effect.
// Run: node examples/promise.mjs path/to/file.torrent [download-dir]
import { createClient } from "../src/index.ts"

const [torrentPath = "file.torrent", directory = "downloads"] = process.argv.slice(2)
const client = await createClient({ downloadDirectory: directory, port: 0 })
try {
  const torrent = await client.add(torrentPath)
  const stop = torrent.onState((s) => console.log(`${(s.progress * 100).toFixed(1)}%  ${s.peers} peers`))
  await torrent.whenComplete()
  stop()
  console.log(`done: ${torrent.name}`)
} finally {
  await client.close()
}
