/**
 * uTP (BEP 29): BitTorrent over UDP with LEDBAT congestion control.
 *
 * - `codec`: the packet format (pure);
 * - `Ledbat`: the delay-based congestion controller (pure);
 * - `UtpConnection`: one connection's state machine (pure);
 * - `makeUtpSocket`: every connection of one UDP socket, as `Connection`s (the edge);
 * - `UdpPort`: one UDP socket per listening port, shared by uTP, the DHT and UDP trackers;
 * - `utpDialer`: uTP as a `PeerDialer`.
 */
export * as codec from "./codec.ts"
export * as Ledbat from "./ledbat.ts"
export * as UtpConnection from "./connection.ts"
export { makeUtpSocket, type UtpSocket, type UtpSocketOptions, type UtpStats } from "./socket.ts"
export { makeUdpPort, shareUdpSocket, UdpPort } from "./port.ts"
export { utpDialer } from "./dialer.ts"
