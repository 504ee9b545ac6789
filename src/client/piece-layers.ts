/**
 * BEP 52: the piece layers sit outside the info dict, so a magnet never carries them and a
 * .torrent may leave them out. A v2 torrent cannot check a piece of a file longer than one
 * piece without its layer: the missing ones are fetched from peers (hash requests) before it
 * opens, and `add` fails without them. A hybrid can check every piece by SHA-1 alone, and
 * libtorrent passes a hybrid's piece on SHA-1 while its v2 hashes are unknown; the layers add
 * the SHA-256 check (and catch a hybrid whose v1 and v2 data disagree), so they are asked for
 * too, but a swarm that cannot give them within `HYBRID_LAYERS_TIMEOUT` (peers that do not
 * speak v2) leaves the hybrid on SHA-1.
 *
 * Before any peer is asked, a file already whole on disk gives its own layer: its bytes are
 * hashed into a merkle tree, and a tree whose root is the file's pieces root proves the
 * layer. A seeder of a .torrent without layers so needs no peer (its data is read once more
 * by the torrent's own check).
 */
import { Duration, Effect, type FileSystem, Option, Stream } from "effect"
import { bytesEqual, toHex } from "../bytes.ts"
import { peerKey } from "../ids.ts"
import { fetchPieceLayers, type FetchPieceLayersOptions, missingPieceLayers } from "../magnet/index.ts"
import { FileMerkleHasher, type Metainfo } from "../metainfo/index.ts"
import { type Address, Network } from "../net/index.ts"
import { resolveInside } from "../storage/index.ts"
import { ClientError } from "./errors.ts"

/** How long a hybrid waits for its piece layers before it goes on with SHA-1 alone. */
const HYBRID_LAYERS_TIMEOUT = Duration.seconds(30)

/** Where the data of the torrent is, and who hears how hashing it for its layers goes (bytes hashed of those to hash). */
export interface LocalData {
  readonly directory: string
  readonly fs: FileSystem.FileSystem
  readonly onHashed?: (hashed: number, total: number) => Effect.Effect<void>
}

/** `meta` with the layers of the files whose bytes under `directory` prove them. */
const localLayers = (meta: Metainfo, local: LocalData) =>
  Effect.gen(function*() {
    const { directory, fs } = local
    const candidates: Array<{ readonly root: Uint8Array; readonly path: string; readonly length: number }> = []
    for (const tree of missingPieceLayers(meta)) {
      const file = meta.files.find((f) => f.piecesRoot !== null && bytesEqual(f.piecesRoot, tree.root))
      const resolved = file === undefined ? undefined : resolveInside(directory, file.path)
      if (file === undefined || resolved?._tag !== "Ok") continue
      const size = yield* Effect.option(fs.stat(resolved.path))
      if (Option.isSome(size) && size.value.size === BigInt(file.length)) candidates.push({ root: tree.root, path: resolved.path, length: file.length })
    }
    // a file already whole is read once more here: a user with a large one sees it move
    const total = candidates.reduce((n, c) => n + c.length, 0)
    let hashed = 0
    const tell = local.onHashed ?? (() => Effect.void)
    if (candidates.length > 0) yield* tell(0, total)
    const layers = new Map(meta.pieceLayers)
    for (const c of candidates) {
      const hasher = new FileMerkleHasher(meta.pieceLength)
      const start = hashed
      const read = yield* Effect.option(Stream.runForEach(fs.stream(c.path, { chunkSize: 1024 * 1024 }), (chunk) =>
        Effect.suspend(() => {
          hasher.update(chunk)
          hashed += chunk.length
          return tell(hashed, total)
        })))
      hashed = start + c.length
      const { layer, root } = hasher.finish()
      if (Option.isSome(read) && layer !== null && root !== null && bytesEqual(root, c.root)) layers.set(toHex(c.root), layer)
    }
    return layers.size === meta.pieceLayers.size ? meta : { ...meta, pieceLayers: layers }
  })

/** The torrent with every piece layer it can get, and its peers less those the fetch banned. */
export const completeLayers = (
  given: Metainfo,
  peers: ReadonlyArray<Address>,
  network: Network["Service"],
  local: LocalData,
  options: Omit<FetchPieceLayersOptions, "peers" | "timeout"> & { readonly timeout: Duration.Input }
) =>
  Effect.gen(function*() {
    if (given.version === "v1" || missingPieceLayers(given).length === 0) return { meta: given, peers }
    const meta = yield* localLayers(given, local)
    if (missingPieceLayers(meta).length === 0) return { meta, peers }
    const timeout = meta.version === "v2" ? options.timeout : Duration.min(Duration.fromInputUnsafe(options.timeout), HYBRID_LAYERS_TIMEOUT)
    const fetch = fetchPieceLayers(meta, { ...options, peers, timeout }).pipe(Effect.provideService(Network, network))
    if (meta.version === "hybrid") {
      const got = yield* Effect.option(Effect.tapError(fetch, (e) => Effect.logWarning(`${meta.name}: hybrid checked by SHA-1 only: ${e.message}`)))
      if (Option.isNone(got)) return { meta, peers }
      return { meta: got.value.meta, peers: peers.filter((p) => !got.value.banned.has(peerKey(p))) }
    }
    const layers = yield* fetch.pipe(
      Effect.mapError((e) => new ClientError({ reason: e.reason === "NoPeers" || e.reason === "Timeout" ? "NoMetadata" : "BadTorrent", detail: e.message }))
    )
    return { meta: layers.meta, peers: peers.filter((p) => !layers.banned.has(peerKey(p))) }
  })
