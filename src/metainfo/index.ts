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
export {
  answerHashRequest,
  fileTree,
  type FileTree,
  type HashRange,
  MAX_HASHES_PER_REQUEST,
  pieceLayerRequests,
  treeLayers,
  uncleCount,
  verifyHashes
} from "./hash-tree.ts"
export { type HashAnswer, type LeafRead, makeHashServer } from "./hash-server.ts"
export { answerLeafRequest, leafRequestPieces, type LeafPieces } from "./leaf-hashes.ts"
export { formatMagnet, type Magnet, MAX_SELECT_ONLY, parseMagnetResult } from "./magnet.ts"
export {
  BLOCK_SIZE,
  blockLeaves,
  FileMerkleHasher,
  fileMerkleRoot,
  filePieceLayer,
  leavesRoot,
  merkleRoot,
  pieceLayerRoot,
  pieceRoot,
  zeroSubtreeRoot
} from "./merkle.ts"
export {
  type Metainfo,
  MetainfoSchema,
  type TorrentFile,
  TorrentFileSchema,
  type TorrentVersion,
  TorrentVersionSchema
} from "./model.ts"
export { type InfoDictExtras, parseInfoDictResult, parseMetainfoResult } from "./parse.ts"
export { wireInfoHash, wireInfoHashes } from "./identity.ts"
export { v2PieceRanges } from "./pieces.ts"
export { toTorrentFile } from "./torrent-file.ts"

/**
 * Parses a .torrent file: v1, v2 (BEP 52) or hybrid.
 *
 * **When to use**
 *
 * On the bytes of a .torrent file, before `Client.add` (which also accepts the bytes or a
 * path and parses them itself) or to show a torrent's contents.
 *
 * **Details**
 *
 * Strict and bounded: the bencode decoder caps depth and sizes, piece hashes and piece layers
 * are checked against the declared geometry, every path is sanitised so no file can land
 * outside the download directory. Anything wrong is a `MetainfoError`, never a thrown error.
 *
 * **Example**
 *
 * ```ts
 * import { parseMetainfo } from "effect-torrent"
 * const meta = yield* parseMetainfo(new Uint8Array(yield* fs.readFile("ubuntu.torrent")))
 * meta.name // "ubuntu-24.04-desktop-amd64.iso"
 * ```
 */
export const parseMetainfo = Effect.fn("parseMetainfo")(
  function*(bytes: Uint8Array): Effect.fn.Return<Metainfo, MetainfoError> {
    return yield* Effect.fromResult(parseMetainfoResult(bytes))
  }
)

/**
 * Parses an info dict on its own, as peers send it for a magnet link (BEP 9). `extras`
 * (trackers, web seeds, name) usually come from the magnet link; check the info-hash of
 * `infoBytes` against the magnet's before trusting the result (`Client.add` does).
 */
export const parseInfoDict = Effect.fn("parseInfoDict")(
  function*(infoBytes: Uint8Array, extras?: InfoDictExtras): Effect.fn.Return<Metainfo, MetainfoError> {
    return yield* Effect.fromResult(parseInfoDictResult(infoBytes, extras))
  }
)

/**
 * Parses a magnet URI (BEP 9; BEP 52 v2 and hybrid hashes; BEP 53 `so` file selection).
 *
 * **Example**
 *
 * ```ts
 * const magnet = yield* parseMagnet("magnet:?xt=urn:btih:...&dn=ubuntu&tr=udp://tracker.example:6969")
 * magnet.trackers // ["udp://tracker.example:6969"]
 * ```
 */
export const parseMagnet = Effect.fn("parseMagnet")(
  function*(uri: string): Effect.fn.Return<Magnet, MagnetError> {
    return yield* Effect.fromResult(parseMagnetResult(uri))
  }
)
