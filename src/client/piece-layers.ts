/**
 * BEP 52: the piece layers sit outside the info dict, so a magnet never carries them and a
 * .torrent may leave them out. A v2 torrent cannot check a piece of a file longer than one
 * piece without its layer: the missing ones are fetched from peers (hash requests) before it
 * opens, and `add` fails without them. A hybrid can check every piece by SHA-1 alone, and
 * libtorrent passes a hybrid's piece on SHA-1 while its v2 hashes are unknown; the layers add
 * the SHA-256 check (and catch a hybrid whose v1 and v2 data disagree), so they are asked for
 * too, but a swarm that cannot give them within `HYBRID_LAYERS_TIMEOUT` (peers that do not
 * speak v2) leaves the hybrid on SHA-1.
 */
import { Duration, Effect, Option } from "effect"
import { peerKey } from "../ids.ts"
import { fetchPieceLayers, type FetchPieceLayersOptions, missingPieceLayers } from "../magnet/index.ts"
import type { Metainfo } from "../metainfo/index.ts"
import { type Address, Network } from "../net/index.ts"
import { ClientError } from "./errors.ts"

/** How long a hybrid waits for its piece layers before it goes on with SHA-1 alone. */
const HYBRID_LAYERS_TIMEOUT = Duration.seconds(30)

/** The torrent with every piece layer it can get, and its peers less those the fetch banned. */
export const completeLayers = (
  meta: Metainfo,
  peers: ReadonlyArray<Address>,
  network: Network["Service"],
  options: Omit<FetchPieceLayersOptions, "peers" | "timeout"> & { readonly timeout: Duration.Input }
) =>
  Effect.gen(function*() {
    if (meta.version === "v1" || missingPieceLayers(meta).length === 0) return { meta, peers }
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
