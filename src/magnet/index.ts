/**
 * Magnet links without a .torrent: fetching the info dict from peers (BEP 9 ut_metadata,
 * client side), fed by x.pe peers and the torrent's peer sources (trackers, DHT).
 * The piece assembly behind it is a pure state machine (assembly.ts).
 */
export type { MetadataProgress } from "./assembly.ts"
export { MagnetFetchError, MagnetFetchErrorReason } from "./errors.ts"
export { DEFAULT_MAX_METADATA_SIZE, fetchMetadata, type FetchMetadataOptions } from "./fetch.ts"
export { OUR_UT_METADATA_ID } from "./peer-wire.ts"
