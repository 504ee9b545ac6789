/**
 * Magnet links without a .torrent: fetching the info dict from peers (BEP 9 ut_metadata,
 * client side), fed by x.pe peers and the torrent's peer sources (trackers, DHT).
 * The piece assembly behind it is a pure state machine (assembly.ts). A v2 torrent's piece
 * layers, which the info dict does not carry, come next (piece-layers.ts, BEP 52 hash requests).
 */
export type { MetadataProgress } from "./assembly.ts"
export { MagnetFetchError, MagnetFetchErrorReason } from "./errors.ts"
export { DEFAULT_MAX_METADATA_SIZE, fetchMetadata, type FetchMetadataOptions } from "./fetch.ts"
export { OUR_UT_METADATA_ID } from "./peer-wire.ts"
export {
  type FetchedPieceLayers,
  fetchPieceLayers,
  type FetchPieceLayersOptions,
  missingPieceLayers,
  type PieceLayersProgress
} from "./piece-layers.ts"
