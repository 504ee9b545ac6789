/**
 * The daemon's guards, one test each, over real HTTP on 127.0.0.1: the token (CSRF), the
 * Host check (DNS rebinding), body caps, no CORS, files only by index, the refusal of a
 * public bind without --auth, and HTTP Basic auth when configured.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { request as httpRequest } from "node:http"
import { serveLayer } from "../src/daemon/server.ts"
import { parseRange } from "../src/daemon/stream-route.ts"
import { MAX_BODY_BYTES, parseAuth, parseListen } from "../src/daemon/security.ts"
import { startDaemon } from "./support/daemon.ts"
import { tempDir } from "./support/files.ts"

/** A raw request (fetch cannot set Host). */
const raw = (url: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer }) =>
  new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = ""
      res.on("data", (c) => (body += String(c)))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on("error", reject)
    req.end(options.body)
  })

const daemonIn = (auth?: { user: string; password: string }) =>
  Effect.gen(function*() {
    const state = yield* tempDir("et-sec-state-")
    const out = yield* tempDir("et-sec-out-")
    return yield* startDaemon({ stateDirectory: state, downloadDirectory: out, ...(auth === undefined ? {} : { auth }) })
  })

describe("daemon security", () => {
  it.live("the native API needs the token; the web page carries it, other origins cannot send it", () =>
    Effect.gen(function*() {
      const daemon = yield* daemonIn()
      const without = yield* Effect.promise(() => fetch(`${daemon.url}/api/torrents`))
      assert.strictEqual(without.status, 403)
      const wrong = yield* Effect.promise(() => fetch(`${daemon.url}/api/torrents`, { headers: { "x-effect-torrent-token": "nope" } }))
      assert.strictEqual(wrong.status, 403)
      const right = yield* Effect.promise(() => daemon.request("/api/torrents"))
      assert.strictEqual(right.status, 200)
      // stream and event routes: the token in the header or the query, else 403
      const events = yield* Effect.promise(() => fetch(`${daemon.url}/api/events`))
      assert.strictEqual(events.status, 403)
      const file = yield* Effect.promise(() => fetch(`${daemon.url}/api/torrents/${"a".repeat(40)}/files/0`))
      assert.strictEqual(file.status, 403)
      // a pre-flight from another origin gets no CORS grant, so the browser never sends the request
      const preflight = yield* Effect.promise(() =>
        fetch(`${daemon.url}/api/torrents`, {
          method: "OPTIONS",
          headers: { origin: "http://evil.example", "access-control-request-method": "POST", "access-control-request-headers": "x-effect-torrent-token" }
        })
      )
      assert.isNull(preflight.headers.get("access-control-allow-origin"))
      assert.isNull(right.headers.get("access-control-allow-origin"))
      // the OpenAPI document is there, and declares the token
      const openapi = (yield* Effect.promise(() => fetch(`${daemon.url}/api/openapi.json`).then((r) => r.json()))) as { components: { securitySchemes: Record<string, { name: string }> } }
      assert.strictEqual(Object.values(openapi.components.securitySchemes)[0]?.name, "x-effect-torrent-token")
      const docs = yield* Effect.promise(() => fetch(`${daemon.url}/api/docs`))
      assert.strictEqual(docs.status, 200)
      assert.include(docs.headers.get("content-type") ?? "", "text/html")
    }))

  it.live("without --auth only a loopback Host is served (DNS rebinding)", () =>
    Effect.gen(function*() {
      const daemon = yield* daemonIn()
      const rebound = yield* Effect.promise(() => raw(`${daemon.url}/`, { headers: { host: "evil.example:9091" } }))
      assert.strictEqual(rebound.status, 403)
      const local = yield* Effect.promise(() => raw(`${daemon.url}/`, { headers: { host: "localhost:9091" } }))
      assert.strictEqual(local.status, 200)
    }))

  it.live("request bodies are capped", () =>
    Effect.gen(function*() {
      const daemon = yield* daemonIn()
      const big = Buffer.alloc(MAX_BODY_BYTES + 1)
      const res = yield* Effect.promise(() =>
        raw(`${daemon.url}/api/torrents/upload`, { method: "POST", headers: { "x-effect-torrent-token": daemon.token, "content-type": "application/x-bittorrent" }, body: big })
      )
      assert.strictEqual(res.status, 413)
      const rpc = yield* Effect.promise(() => raw(`${daemon.url}/transmission/rpc`, { method: "POST", body: big }))
      assert.strictEqual(rpc.status, 413)
    }))

  it.live("files are chosen by index only: a path in the request is never a file", () =>
    Effect.gen(function*() {
      const daemon = yield* daemonIn()
      for (const path of ["/api/torrents/x/files/..%2F..%2Fetc%2Fpasswd", `/api/torrents/${"b".repeat(40)}/files/0`, "/../../etc/passwd"]) {
        const res = yield* Effect.promise(() => daemon.request(path))
        assert.oneOf(res.status, [403, 404])
        assert.notInclude(yield* Effect.promise(() => res.text()), "root:")
      }
    }))

  it.live("a non-loopback bind without --auth is refused before anything listens", () =>
    Effect.gen(function*() {
      const state = yield* tempDir("et-sec-bind-")
      const layer = serveLayer({ http: { host: "0.0.0.0", port: 0 }, stateDirectory: state, downloadDirectory: state, peerPort: null, dht: false, version: "test" })
      const error = yield* Effect.flip(Effect.provide(Effect.void, layer))
      assert.include(String((error as { message?: string }).message), "without --auth")
    }))

  it.live("with --auth every request needs the credentials", () =>
    Effect.gen(function*() {
      const daemon = yield* daemonIn({ user: "me", password: "s3cret" })
      const anonymous = yield* Effect.promise(() => fetch(`${daemon.url}/`))
      assert.strictEqual(anonymous.status, 401)
      assert.include(anonymous.headers.get("www-authenticate") ?? "", "Basic")
      const bad = yield* Effect.promise(() => fetch(`${daemon.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from("me:wrong").toString("base64")}` } }))
      assert.strictEqual(bad.status, 401)
      const good = yield* Effect.promise(() => fetch(`${daemon.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from("me:s3cret").toString("base64")}` } }))
      assert.strictEqual(good.status, 200)
    }))

  it("parses ranges, listen addresses and credentials", () => {
    assert.deepStrictEqual(parseRange(undefined, 100), { _tag: "Whole" })
    assert.deepStrictEqual(parseRange("bytes=0-9", 100), { _tag: "Partial", start: 0, end: 9 })
    assert.deepStrictEqual(parseRange("bytes=90-", 100), { _tag: "Partial", start: 90, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=-5", 100), { _tag: "Partial", start: 95, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=-500", 100), { _tag: "Partial", start: 0, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=50-1000", 100), { _tag: "Partial", start: 50, end: 99 })
    assert.deepStrictEqual(parseRange("bytes=100-", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=9-3", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=-0", 100), { _tag: "Unsatisfiable" })
    assert.deepStrictEqual(parseRange("bytes=0-1,5-6", 100), { _tag: "Whole" })
    assert.deepStrictEqual(parseListen("127.0.0.1:0"), { host: "127.0.0.1", port: 0 })
    assert.deepStrictEqual(parseListen("[::1]:9091"), { host: "::1", port: 9091 })
    assert.isUndefined(parseListen("9091"))
    assert.deepStrictEqual(parseAuth("a:b:c"), { user: "a", password: "b:c" })
    assert.isUndefined(parseAuth("nopass"))
  })
})
