/**
 * IPv6 on ::1, real sockets: the default dual-stack listener (TCP and UDP on `::`), the
 * tracker service against the real `bittorrent-tracker` on [::1] (HTTP replies carry IPv6
 * peers in `peers6`, BEP 7; UDP announces travel over IPv6), our IPv6 address sent as
 * `ipv6=`, and two of our clients that meet only through that tracker and trade over IPv6.
 */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream, SubscriptionRef } from "effect"
import { join } from "node:path"
import { Client } from "../src/client/index.ts"
import * as Http from "node:http"
import { encode } from "../src/bencode/index.ts"
import { ANY_HOST, Network, NodeNetwork, pickGlobalIpv6, unmapIpv4 } from "../src/net/index.ts"
import { type AnnounceRequest, Tracker } from "../src/tracker/index.ts"
import { announceUrl } from "../src/tracker/http-codec.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { bittorrentTrackerOn } from "./support/tracker-server.ts"
import { assertSameData, ourTorrent, withNodeClient } from "./interop/support/harness.ts"

const hostsOf = (peers: ReadonlyArray<{ host: string; port: number }>) => peers.map((p) => `${p.host}:${p.port}`).sort()

describe("IPv6: dual-stack sockets", () => {
  it("an IPv4-mapped address is its IPv4; anything else is left alone", () => {
    assert.strictEqual(unmapIpv4("::ffff:127.0.0.1"), "127.0.0.1")
    assert.strictEqual(unmapIpv4("::FFFF:10.1.2.3"), "10.1.2.3")
    for (const host of ["::1", "2001:db8::1", "127.0.0.1", "::ffff:1:2", "seed.example"]) assert.strictEqual(unmapIpv4(host), host)
  })

  it.live("a TCP listener on :: accepts IPv4 peers under their IPv4 address and IPv6 peers on ::1", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const listener = yield* net.listen({ host: ANY_HOST, port: 0 })
      const port = listener.address.port
      for (const host of ["127.0.0.1", "::1"]) {
        const out = yield* net.connect({ host, port })
        const incoming = yield* listener.accept
        assert.strictEqual(incoming.remote.host, host)
        assert.strictEqual(incoming.remote.port, out.local.port)
        assert.strictEqual(incoming.local.host, host)
      }
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it.live("a UDP socket on :: talks to IPv4 and IPv6 peers, each seen under its own address", () =>
    Effect.gen(function*() {
      const net = yield* Network
      const dual = yield* net.udp({ host: ANY_HOST, port: 0 })
      for (const host of ["127.0.0.1", "::1"]) {
        const other = yield* net.udp({ host, port: 0 })
        yield* other.send(Uint8Array.of(1, 2, 3), { host, port: dual.address.port })
        const got = yield* dual.receive
        assert.deepStrictEqual(got.from, other.address)
        yield* dual.send(Uint8Array.of(4), got.from)
        assert.deepStrictEqual([...(yield* other.receive).payload], [4])
      }
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))
})

const request = (peer: number, fields: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
  infoHash: new Uint8Array(20).fill(7),
  peerId: new Uint8Array(20).fill(peer),
  port: 6880 + peer,
  uploaded: 0,
  downloaded: 0,
  left: 1000,
  ...fields
})

// the default UDP bind ([::]:0, dual-stack)
const trackerLayer = Tracker.layer({ udpMaxRetransmit: 1 }).pipe(Layer.provide([NodeNetwork.layer, FetchHttpClient.layer]))

describe("IPv6: trackers on [::1] (bittorrent-tracker)", () => {
  it.live("HTTP: IPv6 peers come back in peers6", () =>
    Effect.gen(function*() {
      const tracker = yield* Tracker
      const { http } = yield* bittorrentTrackerOn("::1")
      yield* tracker.announce(http, request(1, { event: "started" }))
      const reply = yield* tracker.announce(http, request(2, { event: "started", left: 0 }))
      assert.deepStrictEqual(hostsOf(reply.peers), ["::1:6881", "::1:6882"])
      assert.strictEqual(reply.complete, 1)
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.live("UDP: connect and announce over IPv6 (BEP 15), the swarm counted", () =>
    Effect.gen(function*() {
      const tracker = yield* Tracker
      const { udp } = yield* bittorrentTrackerOn("::1")
      assert.match(udp, /^udp:\/\/\[::1\]:\d+$/)
      yield* tracker.announce(udp, request(3, { event: "started", infoHash: new Uint8Array(20).fill(8) }))
      const reply = yield* tracker.announce(udp, request(4, { event: "started", left: 0, infoHash: new Uint8Array(20).fill(8) }))
      assert.isAbove(reply.interval, 0)
      assert.strictEqual(reply.complete, 1)
      assert.strictEqual(reply.incomplete, 1)
      // (bittorrent-tracker's UDP replies list IPv4 peers only, so none come back here)
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))
})

describe("IPv6: our address to HTTP trackers (BEP 7 ipv6=)", () => {
  it("only a global unicast IPv6 is ours to announce", () => {
    const a = (address: string, family = "IPv6", internal = false) => ({ address, family, internal })
    assert.strictEqual(pickGlobalIpv6([a("::1", "IPv6", true), a("fe80::1"), a("fd00::5"), a("10.0.0.2", "IPv4"), a("2001:DB8::7")]), "2001:db8::7")
    assert.isUndefined(pickGlobalIpv6([a("::1", "IPv6", true), a("fe80::1"), a("fc00::1"), a("::ffff:10.0.0.1")]))
  })

  it("announceUrl sends ipv6= for an IPv6 literal, nothing for anything else", () => {
    assert.include(announceUrl("http://t/announce", { ...request(1), ipv6: "2001:db8::7" }, undefined), "&ipv6=2001%3Adb8%3A%3A7")
    for (const ipv6 of ["10.0.0.1", "host.example", "2001:db8::7]"]) assert.notInclude(announceUrl("http://t/announce", { ...request(1), ipv6 }, undefined), "ipv6=")
  })

  it.live("the Tracker service adds announceIpv6 to every HTTP announce that names none", () =>
    Effect.gen(function*() {
      const urls: Array<string> = []
      const server = yield* Effect.acquireRelease(
        Effect.callback<Http.Server>((resume) => {
          const s = Http.createServer((req, res) => {
            urls.push(req.url ?? "")
            res.end(encode({ interval: 900, peers: new Uint8Array(0) }))
          })
          s.listen(0, "::1", () => resume(Effect.succeed(s)))
        }),
        (s) => Effect.callback<void>((resume) => {
          s.closeAllConnections()
          s.close(() => resume(Effect.void))
        })
      )
      const address = server.address()
      const base = `http://[::1]:${typeof address === "object" && address !== null ? address.port : 0}/announce`
      const tracker = yield* Tracker
      yield* tracker.announce(base, request(1))
      yield* tracker.announce(base, { ...request(1), ipv6: "2001:db8::9" })
      assert.deepStrictEqual(urls.map((u) => new URL(u, "http://x").searchParams.get("ipv6")), ["2001:db8::7", "2001:db8::9"])
    }).pipe(
      Effect.scoped,
      Effect.provide(Tracker.layer({ announceIpv6: "2001:db8::7" }).pipe(Layer.provide([NodeNetwork.layer, FetchHttpClient.layer])), { local: true })
    ))
})

describe("IPv6: two clients on ::1 meet through an HTTP tracker on [::1]", () => {
  it.live("the leecher learns the seeder from peers6 and downloads over IPv6", () =>
    Effect.gen(function*() {
      const { http } = yield* bittorrentTrackerOn("::1")
      const work = yield* tempDir("et-ipv6-")
      const src = join(work, "src")
      yield* writePayload(src, { "v6/a.bin": 700_001, "v6/b.bin": 65_536 })
      const meta = yield* ourTorrent(join(src, "v6"), join(work, "v6.torrent"), 32 * 1024, [http])
      const config = { host: "::1", transports: ["tcp" as const] }
      yield* withNodeClient(src, Effect.gen(function*() {
        const seeder = yield* Client
        const seeding = yield* seeder.add({ path: join(work, "v6.torrent") })
        yield* SubscriptionRef.changes(seeding.state).pipe(Stream.takeUntil((s) => s.trackers.some((t) => t.ok)), Stream.runDrain)
        yield* withNodeClient(join(work, "out"), Effect.gen(function*() {
          const leecher = yield* Client
          // no peers given: the tracker is the only way to meet
          const torrent = yield* leecher.add({ path: join(work, "v6.torrent") })
          // both listen on ::1 alone: whatever connection carried the bytes was IPv6
          yield* torrent.whenComplete.pipe(Effect.timeout("60 seconds"))
        }), config)
      }), config)
      yield* assertSameData(meta, src, join(work, "out"))
    }).pipe(Effect.scoped), 90_000)
})
