/**
 * BEP 10 extension messages in a peer session: the handshake's negotiated ids, and
 * the two extensions we speak, ut_metadata (BEP 9: we serve our info dict) and ut_pex
 * (BEP 11: peers tell each other about peers).
 *
 * Ids are per direction: we send with the peer's ids (from its `m`), it sends with ours
 * (`OUR_EXTENSION_IDS`), and either side may re-send its handshake to renumber.
 */
import { Effect, Result } from "effect"
import {
  decodeExtendedHandshake,
  decodeUtMetadata,
  decodeUtPex,
  encodeUtMetadata,
  EXTENDED_HANDSHAKE_ID,
  METADATA_PIECE_SIZE,
  metadataPieceCount
} from "../wire/index.ts"
import type { SessionContext } from "./context.ts"

/** The ids peers must use when sending us these extensions. */
export const OUR_EXTENSION_IDS = { ut_metadata: 3, ut_pex: 1 } as const

const OUR_EXTENSION_NAMES = new Map<number, string>(Object.entries(OUR_EXTENSION_IDS).map(([name, id]) => [id, name]))

/**
 * The extension an id stands for in one direction (for traces): ours name what the peer
 * sends us, the peer's `m` what we send it; id 0 is the handshake.
 */
export const extensionName = (dir: "in" | "out", id: number, theirs: Record<string, number>): string | undefined => {
  if (id === EXTENDED_HANDSHAKE_ID) return "handshake"
  if (dir === "in") return OUR_EXTENSION_NAMES.get(id)
  for (const name in theirs) if (theirs[name] === id) return name
  return undefined
}

/** Metadata requests served per session beyond one full copy, before we start rejecting. */
const METADATA_REQUEST_SLACK = 16

/** What we advertise in `m`: PEX is off for private torrents (BEP 27). */
export const ourExtensions = (isPrivate: boolean): Record<string, number> =>
  isPrivate ? { ut_metadata: OUR_EXTENSION_IDS.ut_metadata } : { ...OUR_EXTENSION_IDS }

const serveMetadata = (ctx: SessionContext, piece: number) => {
  const { s, torrent } = ctx
  const metadata = torrent.metadata
  const theirId = s.extensions.ut_metadata
  if (theirId === undefined || theirId === 0) return Effect.void
  const pieces = metadataPieceCount(metadata.length)
  s.metadataRequests++
  const send = (payload: Uint8Array) => ctx.reply({ _tag: "Extended", id: theirId, payload })
  if (piece >= pieces || s.metadataRequests > pieces + METADATA_REQUEST_SLACK) {
    return send(encodeUtMetadata({ _tag: "Reject", piece }))
  }
  const data = metadata.subarray(piece * METADATA_PIECE_SIZE, Math.min(metadata.length, (piece + 1) * METADATA_PIECE_SIZE))
  return send(encodeUtMetadata({ _tag: "Data", piece, totalSize: metadata.length, data }))
}

/**
 * Handles an extended message. Malformed extension payloads are ignored (a peer on a
 * different version of an extension is no protocol violation of ours to punish).
 */
export const handleExtended = (ctx: SessionContext, id: number, payload: Uint8Array): Effect.Effect<void> => {
  const { s, torrent } = ctx
  if (id === EXTENDED_HANDSHAKE_ID) {
    const hs = decodeExtendedHandshake(payload)
    if (Result.isFailure(hs)) return Effect.void
    const { m, reqq, p, upload_only } = hs.success
    // A re-sent handshake updates only what it mentions.
    s.extensions = { ...s.extensions, ...m }
    if (reqq !== undefined && reqq > 0) s.maxPipeline = Math.max(1, Math.min(ctx.options.maxPipeline, reqq))
    if (p !== undefined && p > 0 && s.stats.listenAddress === null) {
      s.stats.listenAddress = { host: s.conn.remote.host, port: p }
      torrent.learnedListenAddress(s.key, s.stats.listenAddress)
    }
    if (upload_only === true) s.stats.uploadOnly = true
    return Effect.void
  }
  if (id === OUR_EXTENSION_IDS.ut_metadata) {
    const msg = decodeUtMetadata(payload)
    return Result.isSuccess(msg) && msg.success._tag === "Request" ? serveMetadata(ctx, msg.success.piece) : Effect.void
  }
  if (id === OUR_EXTENSION_IDS.ut_pex && !torrent.isPrivate) {
    const msg = decodeUtPex(payload)
    // with BEP 11's added.f flags: 0x01 prefers encryption (the dialler opens with MSE), 0x04 uTP
    return Result.isSuccess(msg) && msg.success.added.length > 0 ? torrent.addPeers(msg.success.added, "pex") : Effect.void
  }
  return Effect.void
}
