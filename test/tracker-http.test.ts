/** HTTP tracker client against small local node:http servers that misbehave on purpose. */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Result } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import * as Http from "node:http"
import { encode } from "../src/bencode/index.ts"
import { NodeNetwork } from "../src/net/index.ts"
import { type AnnounceRequest, Tracker } from "../src/tracker/index.ts"
import { decodeCompactList } from "../src/net/index.ts"
import { announceUrl, parseAnnounce, percentEncodeBytes, scrapeBase } from "../src/tracker/http-codec.ts"
import { waitUntil } from "./support/waiting.ts"

type Reply = { readonly status?: number; readonly body: Uint8Array | string } | "hang"

/** A node:http server on 127.0.0.1 answering every request with `reply(url)`; records request URLs. */
const localServer = (reply: (url: string) => Reply) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Http.Server; base: string; urls: Array<string> }>((resume) => {
      const urls: Array<string> = []
      const server = Http.createServer((req, res) => {
        const url = req.url ?? ""
        urls.push(url)
        const r = reply(url)
        if (r === "hang") return
        res.writeHead(r.status ?? 200, { "content-type": "text/plain" })
        res.end(r.body)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, base: `http://127.0.0.1:${port}`, urls }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const layer = (config: Parameters<typeof Tracker.layer>[0] = {}) =>
  Tracker.layer({ udpBind: { host: "127.0.0.1", port: 0 }, ...config }).pipe(
    Layer.provide([NodeNetwork.layer, FetchHttpClient.layer])
  )

// every byte >= 0x80: all must be escaped, and the bytes are not valid UTF-8
const infoHash = Uint8Array.from({ length: 20 }, (_, i) => 0x80 + i * 5)
const peerId = new TextEncoder().encode("-ET0001-ab cd&ef=%gh")
const req: AnnounceRequest = { infoHash, peerId, port: 6881, uploaded: 10, downloaded: 20, left: 30 }

describe("HTTP tracker: query encoding", () => {
  it.live("binary info_hash and peer_id are percent-encoded byte by byte; tracker id is sent back", () =>
    Effect.gen(function*() {
      const srv = yield* localServer(() => ({ body: encode({ interval: 900, peers: new Uint8Array(0), "tracker id": "tid 42" }) }))
      const tracker = yield* Tracker
      yield* tracker.announce(`${srv.base}/announce?passkey=abc`, { ...req, event: "started", numwant: 25, key: 0xbeef })
      yield* tracker.announce(`${srv.base}/announce?passkey=abc`, req)
      const hex = (b: Uint8Array) => Array.from(b, (x) => `%${x.toString(16).toUpperCase().padStart(2, "0")}`).join("")
      assert.strictEqual(
        srv.urls[0],
        `/announce?passkey=abc&info_hash=${hex(infoHash)}` +
          "&peer_id=-ET0001-ab%20cd%26ef%3D%25gh&port=6881&uploaded=10&downloaded=20&left=30&compact=1" +
          "&event=started&numwant=25&key=0000beef"
      )
      assert.strictEqual(
        srv.urls[1],
        `/announce?passkey=abc&info_hash=${hex(infoHash)}` +
          "&peer_id=-ET0001-ab%20cd%26ef%3D%25gh&port=6881&uploaded=10&downloaded=20&left=30&compact=1&trackerid=tid%2042"
      )
      // the server-side decoding of info_hash gives back the exact bytes
      const query = new URL(`http://x${srv.urls[0]}`).search
      const raw = /info_hash=([^&]*)/.exec(query)?.[1] ?? ""
      assert.deepStrictEqual(Array.from(Buffer.from(unescape(raw), "latin1")), Array.from(infoHash))
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it("MSE support: supportcrypto=1, and requirecrypto=1 when required; nothing when not said", () => {
    assert.notInclude(announceUrl("http://t/announce", req, undefined), "crypto")
    assert.match(announceUrl("http://t/announce", { ...req, crypto: "supported" }, undefined), /&supportcrypto=1$/)
    assert.match(announceUrl("http://t/announce", { ...req, crypto: "required" }, undefined), /&supportcrypto=1&requirecrypto=1$/)
  })

  it("percentEncodeBytes round-trips any bytes through a byte-wise decoder", () =>
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const encoded = percentEncodeBytes(bytes)
      assert.match(encoded, /^([A-Za-z0-9.\-_~]|%[0-9A-F]{2})*$/)
      assert.deepStrictEqual(Array.from(Buffer.from(unescape(encoded), "latin1")), Array.from(bytes))
    })))

  it("scrape URL convention (BEP 48)", () => {
    assert.strictEqual(scrapeBase("http://t.example/announce"), "http://t.example/scrape")
    assert.strictEqual(scrapeBase("http://t.example/x/announce.php?pk=1"), "http://t.example/x/scrape.php?pk=1")
    assert.strictEqual(scrapeBase("http://t.example/announce?a=/b"), "http://t.example/scrape?a=/b")
    assert.isUndefined(scrapeBase("http://t.example/a"))
    assert.isUndefined(scrapeBase("http://t.example/x/announce/y"))
  })
})

describe("HTTP tracker: responses", () => {
  it("compact IPv4 and IPv6 peers decode back (property)", () =>
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 65535 })), { maxLength: 50 }),
      (peers) => {
        const bytes = new Uint8Array(peers.length * 6)
        peers.forEach(([ip, port], i) => {
          bytes.set(ip, i * 6)
          bytes[i * 6 + 4] = port >> 8
          bytes[i * 6 + 5] = port & 0xff
        })
        const parsed = decodeCompactList(bytes, 4, 1000)
        assert.deepStrictEqual(parsed, peers.map(([ip, port]) => ({ host: Array.from(ip).join("."), port })))
      }
    )))

  it("full response: dict peers, peers6, min interval, warning, counts; port 0 and truncated entries skipped", () => {
    const peers6 = new Uint8Array(18 * 2 + 5)
    peers6[15] = 1 // ::1
    peers6[16] = 0x1a
    peers6[17] = 0xe1 // 6881
    peers6.set([0x20, 0x01, 0x0d, 0xb8], 18) // 2001:db8:: port 0 -> skipped
    const body = encode({
      interval: 1800,
      "min interval": 60,
      complete: 3,
      incomplete: 4,
      "warning message": "be nice",
      peers: [
        { ip: "10.0.0.1", port: 51413, "peer id": new Uint8Array(20) },
        { ip: "::2", port: 1 },
        { ip: "10.0.0.2", port: 0 },
        { port: 5 },
        "junk"
      ],
      peers6
    })
    const r = parseAnnounce(body)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    assert.deepStrictEqual(r.success, {
      interval: 1800,
      minInterval: 60,
      complete: 3,
      incomplete: 4,
      warning: "be nice",
      peers: [{ host: "10.0.0.1", port: 51413 }, { host: "::2", port: 1 }, { host: "::1", port: 6881 }]
    })
  })

  it("peer lists are capped", () => {
    const many = new Uint8Array(6 * 5000).fill(1)
    const r = parseAnnounce(encode({ interval: 60, peers: many }))
    assert.isTrue(Result.isSuccess(r) && r.success.peers.length === 2000)
  })

  const cases: ReadonlyArray<[string, Reply, string, string]> = [
    ["garbage", { body: "<html>hello</html>" }, "TrackerProtocolError", "not bencode"],
    ["a list instead of a dict", { body: encode([1, 2]) }, "TrackerProtocolError", "not a bencoded dictionary"],
    ["no interval", { body: encode({ peers: new Uint8Array(0) }) }, "TrackerProtocolError", "missing interval"],
    ["failure reason", { body: encode({ "failure reason": "torrent not registered" }) }, "TrackerFailure", "refused: torrent not registered"],
    ["failure reason with HTTP 400", { status: 400, body: encode({ "failure reason": "bad passkey" }) }, "TrackerFailure", "bad passkey"],
    ["HTTP 500", { status: 500, body: "oops" }, "TrackerUnreachable", "HTTP status 500"],
    ["a body over the cap", { body: encode({ interval: 60, peers: new Uint8Array(4096) }) }, "TrackerProtocolError", "exceeds 2048"]
  ]
  for (const [name, reply, tag, text] of cases) {
    it.live(`${name} -> ${tag}`, () =>
      Effect.gen(function*() {
        const srv = yield* localServer(() => reply)
        const tracker = yield* Tracker
        const err = yield* Effect.flip(tracker.announce(`${srv.base}/announce`, req))
        assert.strictEqual(err._tag, tag)
        assert.include(err.message, text)
        assert.include(err.message, srv.base)
      }).pipe(Effect.scoped, Effect.provide(layer({ maxResponseBytes: 2048 }), { local: true })))
  }

  it.live("a refused connection is TrackerUnreachable; unknown schemes and bad hashes are TrackerRequestError", () =>
    Effect.gen(function*() {
      const tracker = yield* Tracker
      const port = yield* Effect.scoped(Effect.map(localServer(() => ({ body: "" })), (s) => Number(new URL(s.base).port)))
      const refused = yield* Effect.flip(tracker.announce(`http://127.0.0.1:${port}/announce`, req))
      assert.strictEqual(refused._tag, "TrackerUnreachable")
      assert.strictEqual((yield* Effect.flip(tracker.announce("wss://t.example/announce", req)))._tag, "TrackerRequestError")
      const bad = yield* Effect.flip(tracker.announce("http://127.0.0.1:1/announce", { ...req, infoHash: new Uint8Array(19) }))
      assert.include(bad.message, "info hash must be 20 bytes, got 19")
      const noScrape = yield* Effect.flip(tracker.scrape("http://127.0.0.1:1/a", [infoHash]))
      assert.include(noScrape.message, "does not support scrape")
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))

  it.effect("a tracker that never answers times out on Effect's clock", () =>
    Effect.gen(function*() {
      const srv = yield* localServer(() => "hang")
      const tracker = yield* Tracker
      const fiber = yield* Effect.forkChild(tracker.announce(`${srv.base}/announce`, req))
      yield* waitUntil("the request to reach the tracker", () => srv.urls.length > 0)
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const err = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(err._tag, "TrackerUnreachable")
      assert.include(err.message, "no answer within 30")
    }).pipe(Effect.scoped, Effect.provide(layer(), { local: true })))
})
