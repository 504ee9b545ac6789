/**
 * Incoming connections: one port for every torrent. The first bytes tell a plaintext
 * BitTorrent handshake (`\x13BitTorrent protocol`) from an MSE/PE opening; an MSE
 * handshake names its torrent by `HASH('req2', info-hash)`, which `findSkey` looks up.
 * Either way we then read the 48-byte handshake header (protocol, reserved bits,
 * info-hash), route the connection to its torrent and let the torrent answer at once, as
 * BEP 3 allows. Unknown info-hashes, openings the encryption policy refuses, and silent or
 * malformed openers are closed.
 *
 * `routeIncoming` is the accept side of the transport seam (see peer/dialer.ts): any
 * accept loop (a TCP listener, a uTP socket) hands it a `Connection`; the MSE stream is
 * unwrapped here, whatever carries it.
 */
import { Effect } from "effect"
import { bytesEqual } from "../bytes.ts"
import { type InfoHash, infoHashOf } from "../ids.ts"
import { type EncryptionPolicy, readOpening, respond } from "../mse/index.ts"
import { type Address, type Connection, Network, serve } from "../net/index.ts"
import { readHandshakeHeader } from "../peer/index.ts"
import type { IncomingVia, Opening, Torrent } from "../torrent/index.ts"
import { makeFramer } from "../wire/index.ts"

const HEADER_TIMEOUT = "10 seconds"

/** Finds the torrent an incoming handshake names (hex v1 info-hash), if we have it. */
export type TorrentLookup = (infoHash: InfoHash) => Torrent | undefined

export interface IncomingOptions {
  readonly encryption: EncryptionPolicy
  /** The info-hash (v1, or v2 truncated) whose `HASH('req2', info-hash)` this is, among our torrents. */
  readonly findSkey: (req2Hash: Uint8Array) => Uint8Array | undefined
}

/**
 * Reads the opening of a freshly accepted connection (answering MSE if it is one), then
 * the handshake header, and hands the connection to its torrent, whose session then owns
 * it (`serve`'s handler contract); closes it on an opening the policy refuses, an unknown
 * info-hash, a malformed or late header.
 */
export const routeIncoming = (lookup: TorrentLookup, options: IncomingOptions) => (conn: Connection): Effect.Effect<void> =>
  Effect.gen(function*() {
    const policy = options.encryption
    const framer = makeFramer()
    const first = yield* readOpening(conn, HEADER_TIMEOUT)
    let stream: Connection = conn
    let opening: Opening = "plain"
    let encryption: IncomingVia["encryption"] = "none"
    let skey: Uint8Array | undefined
    if (first.kind === "plaintext") {
      if (policy === "require") return yield* conn.close
      framer.push(first.bytes)
    } else {
      if (policy === "disable") return yield* conn.close
      const mse = yield* respond(conn, first.bytes, { findSkey: options.findSkey, policy, stepTimeout: HEADER_TIMEOUT })
      stream = mse.connection
      opening = "mse"
      encryption = mse.method === "rc4" ? "rc4" : "plaintext-negotiated"
      skey = mse.skey
    }
    const header = yield* readHandshakeHeader(stream, framer).pipe(Effect.timeout(HEADER_TIMEOUT))
    // inside MSE the handshake must name the torrent the MSE handshake named
    if (skey !== undefined && !bytesEqual(skey, header.infoHash)) return yield* conn.close
    const torrent = lookup(infoHashOf(header.infoHash))
    if (torrent === undefined) return yield* conn.close
    yield* torrent.acceptIncoming(stream, framer, header, { opening, encryption })
  }).pipe(Effect.catch(() => conn.close))

/** Listens on `address` (TCP through `Network`) in the current scope; returns the bound port. */
export const listenForPeers = (address: Address, lookup: TorrentLookup, options: IncomingOptions) =>
  Effect.gen(function*() {
    const network = yield* Network
    const listener = yield* network.listen(address)
    yield* Effect.forkScoped(
      serve(listener, routeIncoming(lookup, options)).pipe(
        Effect.catch((e) => Effect.logError(`listener on port ${listener.address.port} failed: ${e.message}`))
      )
    )
    return listener.address.port
  })
