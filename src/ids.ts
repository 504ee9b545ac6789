/**
 * Names that are easy to mix up, made distinct types (Effect's `Brand`): a piece index is not
 * a block offset, an info-hash is not any other hex string, a peer key is not any other text.
 * Brands are types only: at run time these are the plain number and strings, so the hot path
 * pays nothing.
 *
 * **When to use**
 *
 * - `PieceIndex` where pieces are named next to offsets and lengths (storage, the picker,
 *   wire messages): made by the wire decoder, the picker, or `PieceIndex(i)` when counting.
 * - `InfoHash` for a torrent's identity in the client's API and state: `infoHashOf(bytes)` or,
 *   from a user, `parseInfoHash(text)`.
 * - `PeerKey` for the key a peer is known by (its `host:port`): `peerKey(address)`.
 *
 * **Example**
 *
 * ```ts
 * import { parseInfoHash, peerKey, PieceIndex } from "./ids.ts"
 * const hash = parseInfoHash("C12FE1C06BBA254A9DC9F519B335AA7C1367A88A") // lower case, or undefined
 * const key = peerKey({ host: "::1", port: 6881 }) // "[::1]:6881"
 * const first = PieceIndex(0)
 * ```
 */
import { Brand } from "effect"
import { toHex } from "./bytes.ts"
import { formatAddress } from "./net/address.ts"
import type { Address } from "./net/Network.ts"

/** A piece's index in its torrent (0-based). */
export type PieceIndex = Brand.Branded<number, "PieceIndex">
/** Names a number as a piece index (no check: the picker and storage check ranges). */
export const PieceIndex = Brand.nominal<PieceIndex>()

/** A torrent's v1 info-hash as 40 lower-case hex characters: its identity in the client. */
export type InfoHash = Brand.Branded<string, "InfoHash">
const asInfoHash = Brand.nominal<InfoHash>()

/** The info-hash of these 20 bytes. */
export const infoHashOf = (bytes: Uint8Array): InfoHash => asInfoHash(toHex(bytes))

/** What an info-hash looks like as text: 40 hex characters, either case. */
export const INFO_HASH_TEXT = /^[0-9a-fA-F]{40}$/

/** 40 hex characters (either case) as an info-hash; undefined for anything else. */
export const parseInfoHash = (text: string): InfoHash | undefined =>
  INFO_HASH_TEXT.test(text) ? asInfoHash(text.toLowerCase()) : undefined

/** Already the canonical (lower-case) text of an info-hash. */
export const isCanonicalInfoHash = (text: string): text is InfoHash => parseInfoHash(text) === text

/** The key a peer is known by: its address as `host:port` (`[v6]:port`). */
export type PeerKey = Brand.Branded<string, "PeerKey">
const asPeerKey = Brand.nominal<PeerKey>()

/**
 * The `PeerKey` of an address, `formatAddress`'s form (`1.2.3.4:6881`, `[::1]:6881`): the
 * key of `TorrentEvent` peers, `PeerStats.key` and the peer book.
 */
export const peerKey = (address: Address): PeerKey => asPeerKey(formatAddress(address))

/** The key a web seed (BEP 19/17) is known by in the picker, blame and bans: its URL. */
export const webSeedKey = (url: string): PeerKey => asPeerKey(url)
