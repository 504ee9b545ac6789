// The parts of bittorrent-tracker 11's server that the tracker tests use (it ships no types).
declare module "bittorrent-tracker/server" {
  import type { Server as HttpServer } from "node:http"
  import type { Socket as UdpSocket } from "node:dgram"

  interface ServerOptions {
    http?: boolean
    udp?: boolean
    ws?: boolean
    stats?: boolean
    /** Announce interval in milliseconds. */
    interval?: number
  }

  class Server {
    constructor(options?: ServerOptions)
    readonly http: HttpServer | null
    readonly udp: UdpSocket | null
    readonly udp6: UdpSocket | null
    readonly torrents: Record<string, unknown>
    listen(
      port: number,
      hostnames: { http?: string; udp?: string; udp6?: string },
      onListening: () => void
    ): void
    close(cb?: (err?: Error | null) => void): void
    on(event: "error" | "warning", cb: (err: Error) => void): this
    /** Announce events as they arrive: `addr` is "ip:port" of the announcing peer. */
    on(event: "start" | "stop" | "complete" | "update", cb: (addr: string) => void): this
  }
  export default Server
}
