/**
 * Torrents made in memory for simulations: deterministic content (a seeded xorshift
 * stream, so no randomness is drawn from the simulation), a real v1 info dict encoded
 * with our bencode encoder and parsed back with the real metainfo parser.
 */
import { Effect } from "effect"
import { encode } from "../bencode/index.ts"
import { sha1, toHex } from "../bytes.ts"
import { parseMetainfo } from "../metainfo/index.ts"
import type { Metainfo } from "../metainfo/model.ts"

export interface SimTorrent {
  readonly metainfo: Metainfo
  /** The .torrent file. */
  readonly bytes: Uint8Array
  /** The whole payload; pieces are views into it. */
  readonly content: Uint8Array
  readonly infoHash: string
}

export interface SimTorrentOptions {
  readonly name?: string
  readonly size: number
  readonly pieceLength: number
  /** Content seed. Default 1. */
  readonly seed?: number
  /** Announce URLs (the first becomes `announce`). */
  readonly trackers?: ReadonlyArray<string>
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for hundreds of MiB. */
export const makeContent = (size: number, seed: number): Uint8Array => {
  // Shared memory: hashing threads read pieces of it in place (hashing.ts).
  const out = new Uint8Array(new SharedArrayBuffer(size))
  const words = new Uint32Array(out.buffer, 0, Math.floor(size / 4))
  let x = (seed * 2654435761) >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    words[i] = x
  }
  for (let i = words.length * 4; i < size; i++) out[i] = (i * 31 + seed) & 0xff
  return out
}

export const makeSimTorrent = Effect.fn("Sim.makeTorrent")(function*(options: SimTorrentOptions) {
  const content = makeContent(options.size, options.seed ?? 1)
  const count = Math.ceil(options.size / options.pieceLength)
  const pieces = new Uint8Array(20 * count)
  for (let i = 0; i < count; i++) {
    const piece = content.subarray(i * options.pieceLength, Math.min(options.size, (i + 1) * options.pieceLength))
    pieces.set(sha1(piece), 20 * i)
  }
  const trackers = options.trackers ?? []
  const bytes = encode({
    ...(trackers[0] === undefined ? {} : { announce: trackers[0] }),
    ...(trackers.length > 1 ? { "announce-list": trackers.map((t) => [t]) } : {}),
    info: { name: options.name ?? "sim.bin", "piece length": options.pieceLength, length: options.size, pieces }
  })
  const metainfo = yield* parseMetainfo(bytes)
  const infoHash = metainfo.infoHash === null ? "" : toHex(metainfo.infoHash)
  const torrent: SimTorrent = { metainfo, bytes, content, infoHash }
  return torrent
})
