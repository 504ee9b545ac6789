/**
 * The Tracker service against the real `bittorrent-tracker` server (npm),
 * over HTTP and UDP on 127.0.0.1.
 */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Queue } from "effect"
import { type Address, NodeNetwork } from "../src/net/index.ts"
import { type AnnounceRequest, makeAnnouncer, Tracker } from "../src/tracker/index.ts"
import { bittorrentTracker } from "./support/tracker-server.ts"


const trackerLayer = Tracker.layer({ udpBind: { host: "127.0.0.1", port: 0 }, udpMaxRetransmit: 1 }).pipe(
  Layer.provide([NodeNetwork.layer, FetchHttpClient.layer])
)

const id = (fill: number) => new Uint8Array(20).fill(fill)
// Bytes that need escaping (NUL, space, "&", "%", "=", "+", "?"), but all below 0x80: bittorrent-tracker
// builds its HTTP scrape `files` keys with the `bencode` package, which UTF-8-encodes keys and so corrupts
// bytes >= 0x80. Exact byte-for-byte query encoding is checked against a local server in tracker-http.test.ts.
const infoHash = Uint8Array.from([0, 32, 38, 37, 61, 43, 63, 1, 2, 3, 127, 126, 65, 97, 48, 47, 35, 10, 13, 9])

const request = (peer: number, fields: Partial<AnnounceRequest>): AnnounceRequest => ({
  infoHash,
  peerId: id(peer),
  port: 6880 + peer,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  ...fields
})

const hostsOf = (peers: ReadonlyArray<{ host: string; port: number }>) => peers.map((p) => `${p.host}:${p.port}`).sort()

for (const protocol of ["http", "udp"] as const) {
  describe(`Tracker against bittorrent-tracker over ${protocol}`, () => {
    it.live("two peers see each other; scrape counts them; stopped removes a peer", () =>
      Effect.gen(function*() {
        const tracker = yield* Tracker
        const urls = yield* bittorrentTracker
        const url = urls[protocol]

        // (bittorrent-tracker lists the announcing peer itself too)
        const a = yield* tracker.announce(url, request(1, { event: "started", numwant: 50 }))
        assert.deepStrictEqual(hostsOf(a.peers), ["127.0.0.1:6881"])
        assert.isAbove(a.interval, 0)

        const b = yield* tracker.announce(url, request(2, { event: "started", left: 0 }))
        assert.deepStrictEqual(hostsOf(b.peers), ["127.0.0.1:6881", "127.0.0.1:6882"])
        assert.strictEqual(b.complete, 1)
        assert.strictEqual(b.incomplete, 1)

        const again = yield* tracker.announce(url, request(1, {}))
        assert.deepStrictEqual(hostsOf(again.peers), ["127.0.0.1:6881", "127.0.0.1:6882"])

        const other = Uint8Array.from(infoHash).fill(9, 0, 2)
        const scraped = yield* tracker.scrape(url, [infoHash, other])
        assert.deepStrictEqual(
          scraped.map((e) => [Array.from(e.infoHash), e.complete, e.incomplete]),
          // bittorrent-tracker answers unknown torrents with zeros
          [[Array.from(infoHash), 1, 1], [Array.from(other), 0, 0]]
        )

        yield* tracker.announce(url, request(1, { event: "stopped" }))
        const afterStop = yield* tracker.announce(url, request(2, {}))
        assert.deepStrictEqual(hostsOf(afterStop.peers), ["127.0.0.1:6882"])
        const [entry] = yield* tracker.scrape(url, [infoHash])
        assert.strictEqual(entry?.incomplete, 0)
        assert.strictEqual(entry?.complete, 1)
      }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))
  })
}

describe("announcers against bittorrent-tracker", () => {
  it.live("two announcers (HTTP tier, UDP tier) learn about each other", () =>
    Effect.gen(function*() {
      const urls = yield* bittorrentTracker
      const announcer = (peer: number, trackers: ReadonlyArray<ReadonlyArray<string>>) =>
        Effect.gen(function*() {
          const found = yield* Queue.unbounded<ReadonlyArray<Address>>()
          yield* makeAnnouncer({
            trackers,
            infoHash,
            peerId: id(peer),
            port: 6880 + peer,
            stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: peer === 1 ? 0 : 500 }),
            onPeers: (peers) => Queue.offer(found, peers).pipe(Effect.asVoid),
            minimumInterval: "1 second"
          })
          return found
        })
      const a = yield* announcer(1, [[urls.http]])
      const firstA = yield* Queue.take(a)
      assert.deepStrictEqual(hostsOf(firstA), ["127.0.0.1:6881"])
      const b = yield* announcer(2, [[urls.udp]])
      assert.deepStrictEqual(hostsOf(yield* Queue.take(b)), ["127.0.0.1:6881", "127.0.0.1:6882"])
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))
})
