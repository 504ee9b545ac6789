/**
 * Incoming connections: one port for every torrent. We read the 48-byte handshake
 * header (protocol, reserved bits, info-hash), route the connection to its torrent
 * and let the torrent answer at once, as BEP 3 allows. Unknown info-hashes and
 * silent or malformed openers are closed.
 *
 * `routeIncoming` is the accept side of the transport seam (see peer/dialer.ts): any
 * accept loop (a TCP listener, a uTP socket) hands it a `Connection`, and a wrapper
 * (an encrypted stream recognised by its opening bytes) can be unwrapped before it.
 */
import { Effect } from "effect"
import { type InfoHash, infoHashOf } from "../ids.ts"
import { type Address, type Connection, Network, serve } from "../net/index.ts"
import { readHandshakeHeader } from "../peer/index.ts"
import type { Torrent } from "../torrent/index.ts"
import { makeFramer } from "../wire/index.ts"

const HEADER_TIMEOUT = "10 seconds"

/** Finds the torrent an incoming handshake names (hex v1 info-hash), if we have it. */
export type TorrentLookup = (infoHash: InfoHash) => Torrent | undefined

/**
 * Reads the handshake header from a freshly accepted connection and hands the connection
 * to its torrent; closes it on an unknown info-hash, a malformed or late header. Returns
 * once the session ended (the caller keeps the connection's scope open until then).
 */
export const routeIncoming = (lookup: TorrentLookup) => (conn: Connection): Effect.Effect<void> =>
  Effect.gen(function*() {
    const framer = makeFramer()
    const header = yield* readHandshakeHeader(conn, framer).pipe(Effect.timeout(HEADER_TIMEOUT))
    const torrent = lookup(infoHashOf(header.infoHash))
    if (torrent === undefined) return yield* conn.close
    yield* torrent.acceptIncoming(conn, framer, header)
  }).pipe(Effect.catch(() => conn.close))

/** Listens on `address` (TCP through `Network`) in the current scope; returns the bound port. */
export const listenForPeers = (address: Address, lookup: TorrentLookup) =>
  Effect.gen(function*() {
    const network = yield* Network
    const listener = yield* network.listen(address)
    yield* Effect.forkScoped(
      serve(listener, routeIncoming(lookup)).pipe(
        Effect.catch((e) => Effect.logError(`listener on port ${listener.address.port} failed: ${e.message}`))
      )
    )
    return listener.address.port
  })
