/**
 * Outgoing uTP connections as a `PeerDialer` (peer/dialer.ts), for the transport dialler
 * (peer/transport.ts) to put beside TCP.
 */
import { type Duration, Effect } from "effect"
import { formatAddress } from "../net/index.ts"
import { type PeerDialer, PeerError } from "../peer/index.ts"
import type { UtpSocket } from "./socket.ts"

/** Dials through `utp`, giving up after `timeout` (the SYN retries alone take about 7 s). */
export const utpDialer = (utp: UtpSocket, timeout: Duration.Input): PeerDialer => (address) =>
  utp.connect(address).pipe(
    Effect.timeout(timeout),
    Effect.mapError((e) => new PeerError({ reason: "Network", peer: formatAddress(address), detail: `uTP: ${e.message}` }))
  )
