/**
 * Metainfo: .torrent parsing (v1, v2, hybrid), info-dict parsing for BEP 9,
 * magnet links (hex, byte equality and digests live in src/bytes.ts). The shared model lives in model.ts.
 */
import { Effect } from "effect"
import type { MagnetError, MetainfoError } from "./errors.ts"
import { type Magnet, parseMagnetResult } from "./magnet.ts"
import type { Metainfo } from "./model.ts"
import { type InfoDictExtras, parseInfoDictResult, parseMetainfoResult } from "./parse.ts"

export { fromBase32, toBase32 } from "./encoding.ts"
export { MagnetError, MagnetErrorReason, MetainfoError, MetainfoErrorReason } from "./errors.ts"
export { formatMagnet, type Magnet, MAX_SELECT_ONLY, parseMagnetResult } from "./magnet.ts"
export { BLOCK_SIZE, fileMerkleRoot, filePieceLayer, merkleRoot, pieceLayerRoot, zeroSubtreeRoot } from "./merkle.ts"
export {
  type Metainfo,
  MetainfoSchema,
  type TorrentFile,
  TorrentFileSchema,
  type TorrentVersion,
  TorrentVersionSchema
} from "./model.ts"
export { type InfoDictExtras, parseInfoDictResult, parseMetainfoResult } from "./parse.ts"
export { v2PieceRanges } from "./pieces.ts"

/** Parses a whole .torrent file (bytes as read from disk). */
export const parseMetainfo = Effect.fn("parseMetainfo")(
  function*(bytes: Uint8Array): Effect.fn.Return<Metainfo, MetainfoError> {
    return yield* Effect.fromResult(parseMetainfoResult(bytes))
  }
)

/** Parses an info dict received from peers (BEP 9); `extras` usually come from the magnet link. */
export const parseInfoDict = Effect.fn("parseInfoDict")(
  function*(infoBytes: Uint8Array, extras?: InfoDictExtras): Effect.fn.Return<Metainfo, MetainfoError> {
    return yield* Effect.fromResult(parseInfoDictResult(infoBytes, extras))
  }
)

/** Parses a magnet URI (BEP 9 / BEP 53, v1 and v2 hashes). */
export const parseMagnet = Effect.fn("parseMagnet")(
  function*(uri: string): Effect.fn.Return<Magnet, MagnetError> {
    return yield* Effect.fromResult(parseMagnetResult(uri))
  }
)
