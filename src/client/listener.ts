/**
 * Incoming connections: one port for every torrent. We read the 48-byte handshake
 * header (protocol, reserved bits, info-hash), route the connection to its torrent
 * and let the torrent answer at once, as BEP 3 allows. Unknown info-hashes and
 * silent or malformed openers are closed.
 */
import { Effect } from "effect"
import { toHex } from "../bytes.ts"
import { type Address, Network, serve } from "../net/index.ts"
import { readHandshakeHeader } from "../peer/index.ts"
import type { Torrent } from "../torrent/index.ts"
import { makeFramer } from "../wire/index.ts"

const HEADER_TIMEOUT = "10 seconds"

/** Listens on `address` in the current scope; returns the bound port. */
export const listenForPeers = (address: Address, lookup: (infoHash: string) => Torrent | undefined) =>
  Effect.gen(function*() {
    const network = yield* Network
    const listener = yield* network.listen(address)
    yield* Effect.forkScoped(
      serve(listener, (conn) =>
        Effect.gen(function*() {
          const framer = makeFramer()
          const header = yield* readHandshakeHeader(conn, framer).pipe(Effect.timeout(HEADER_TIMEOUT))
          const torrent = lookup(toHex(header.infoHash))
          if (torrent === undefined) return yield* conn.close
          yield* torrent.acceptIncoming(conn, framer, header)
        }).pipe(Effect.catch(() => conn.close))
      ).pipe(Effect.catch((e) => Effect.logError(`listener on port ${listener.address.port} failed: ${e.message}`)))
    )
    return listener.address.port
  })
