import { Context, Duration, Effect, Layer, Random } from "effect"
import type { HttpClient } from "effect/http"
import { type Address, ANY_HOST, type Network, type UdpSocket } from "../net/index.ts"
import { makeHttpTracker } from "./http.ts"
import type { AnnounceRequest, AnnounceResponse, ScrapeEntry, TrackerError } from "./types.ts"
import { TrackerRequestError } from "./types.ts"
import { makeUdpTracker } from "./udp.ts"

export interface TrackerConfig {
  /** Local address of the UDP socket used for UDP trackers. Default [::]:0 (dual-stack: IPv4 and IPv6 trackers). */
  readonly udpBind?: Address
  /** A UDP socket to use instead of binding `udpBind`: the client's shared port (utp/port.ts). */
  readonly udpSocket?: UdpSocket
  /** Highest n of the BEP 15 retransmit schedule 15·2^n s. Default 8. */
  readonly udpMaxRetransmit?: number
  /** Whole-request timeout for HTTP trackers. Default 30 s. */
  readonly httpTimeout?: Duration.Input
  /** Largest HTTP tracker response accepted. Default 4 MiB. */
  readonly maxResponseBytes?: number
  /** Our IPv6 address for every HTTP announce that names none (`AnnounceRequest.ipv6`, BEP 7). */
  readonly announceIpv6?: string
}

/**
 * Talks to one tracker at a time; dispatches on the URL scheme (http, https,
 * udp). Remembers per-tracker state (HTTP tracker ids, UDP connection ids) for
 * the life of the service. Tiers, intervals and retries are the announcer's job.
 */
export class Tracker extends Context.Service<Tracker, {
  readonly announce: (url: string, request: AnnounceRequest) => Effect.Effect<AnnounceResponse, TrackerError>
  /** Counts for the given torrents, in request order; torrents the tracker does not know are left out. */
  readonly scrape: (url: string, infoHashes: ReadonlyArray<Uint8Array>) => Effect.Effect<ReadonlyArray<ScrapeEntry>, TrackerError>
}>()("effect-torrent/Tracker") {
  static readonly layer = (config: TrackerConfig = {}): Layer.Layer<Tracker, never, Network | HttpClient.HttpClient> =>
    Layer.effect(Tracker, make(config))
}

const schemeOf = (url: string): string => {
  const colon = url.indexOf(":")
  return colon === -1 ? "" : url.slice(0, colon).toLowerCase()
}

const checkRequest = (url: string, req: AnnounceRequest): TrackerRequestError | undefined => {
  if (req.infoHash.length !== 20) return new TrackerRequestError({ url, detail: `info hash must be 20 bytes, got ${req.infoHash.length}` })
  if (req.peerId.length !== 20) return new TrackerRequestError({ url, detail: `peer id must be 20 bytes, got ${req.peerId.length}` })
  if (!Number.isInteger(req.port) || req.port < 0 || req.port > 65535) return new TrackerRequestError({ url, detail: `invalid port ${req.port}` })
  return undefined
}

const make = (config: TrackerConfig) =>
  Effect.gen(function*() {
    const http = yield* makeHttpTracker({
      timeout: Duration.fromInputUnsafe(config.httpTimeout ?? "30 seconds"),
      maxResponseBytes: config.maxResponseBytes ?? 4 * 1024 * 1024
    })
    const udp = yield* makeUdpTracker({
      bind: config.udpBind ?? { host: ANY_HOST, port: 0 },
      maxRetransmit: config.udpMaxRetransmit ?? 8,
      ...(config.udpSocket === undefined ? {} : { socket: config.udpSocket })
    })
    // BEP 15 key: constant for this client unless the request brings its own.
    const defaultKey = yield* Random.nextIntBetween(0, 0xffffffff)

    const announce = (url: string, request: AnnounceRequest): Effect.Effect<AnnounceResponse, TrackerError> =>
      Effect.suspend(() => {
        const invalid = checkRequest(url, request)
        if (invalid !== undefined) return Effect.fail(invalid)
        switch (schemeOf(url)) {
          case "http":
          case "https":
            return http.announce(url, config.announceIpv6 === undefined || request.ipv6 !== undefined ? request : { ...request, ipv6: config.announceIpv6 })
          case "udp":
            return udp.announce(url, request, request.key ?? defaultKey)
          default:
            return Effect.fail(new TrackerRequestError({ url, detail: "unsupported scheme" }))
        }
      }).pipe(Effect.withSpan("Tracker.announce", { attributes: { url } }))

    const scrape = (url: string, infoHashes: ReadonlyArray<Uint8Array>): Effect.Effect<ReadonlyArray<ScrapeEntry>, TrackerError> =>
      Effect.suspend(() => {
        const bad = infoHashes.find((h) => h.length !== 20)
        if (bad !== undefined) return Effect.fail(new TrackerRequestError({ url, detail: `info hash must be 20 bytes, got ${bad.length}` }))
        if (infoHashes.length === 0) return Effect.succeed([])
        switch (schemeOf(url)) {
          case "http":
          case "https":
            return http.scrape(url, infoHashes)
          case "udp":
            return udp.scrape(url, infoHashes)
          default:
            return Effect.fail(new TrackerRequestError({ url, detail: "unsupported scheme" }))
        }
      }).pipe(Effect.withSpan("Tracker.scrape", { attributes: { url } }))

    return Tracker.of({ announce, scrape })
  })
