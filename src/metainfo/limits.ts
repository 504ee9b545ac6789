/** Resource caps for untrusted metainfo. The thresholds are ours (specs set none). */
export const MAX_FILES = 500_000
/** Largest accepted piece length: 512 MiB (libtorrent's cap is 536,854,528; v1 allows any positive size). */
export const MAX_PIECE_LENGTH = 2 ** 29
/** Like libtorrent's default (2^21): bounds bitfields and piece tables; 40 MiB of v1 hashes. */
export const MAX_PIECES = 2 ** 21
/** Bencode caps for a whole .torrent file. */
export const MAX_BENCODE_DEPTH = 128
export const MAX_BENCODE_ELEMENTS = 4_000_000
/** Deepest v2 file tree (directories), below the bencode depth cap. */
export const MAX_FILE_TREE_DEPTH = 100
export const MIN_V2_PIECE_LENGTH = 16384
