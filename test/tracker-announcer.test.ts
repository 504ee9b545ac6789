/** The announcer on virtual time against small local HTTP trackers on 127.0.0.1. */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Queue, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Http from "node:http"
import { encode } from "../src/bencode/index.ts"
import { type Address, NodeNetwork } from "../src/net/index.ts"
import { type Announcer, type AnnouncerOptions, makeAnnouncer, type TrackerStatus, Tracker } from "../src/tracker/index.ts"
import { waitUntil } from "./support/waiting.ts"

interface Behaviour {
  mode: "ok" | "fail" | "hang"
  interval: number
  minInterval?: number
}

/** A scriptable HTTP tracker; `events` lists the `event` parameter of each request ("" for none). */
const scriptedTracker = (behaviour: Behaviour) =>
  Effect.acquireRelease(
    Effect.callback<{ server: Http.Server; url: string; events: Array<string>; behaviour: Behaviour }>((resume) => {
      const events: Array<string> = []
      const server = Http.createServer((req, res) => {
        events.push(new URL(`http://x${req.url ?? ""}`).searchParams.get("event") ?? "")
        if (behaviour.mode === "hang") return
        if (behaviour.mode === "fail") {
          res.writeHead(500)
          res.end("down")
          return
        }
        res.end(encode({
          interval: behaviour.interval,
          ...(behaviour.minInterval !== undefined ? { "min interval": behaviour.minInterval } : {}),
          peers: Uint8Array.of(10, 0, 0, 7, 0x1a, 0xe1)
        }))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}/announce`, events, behaviour }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A URL where nothing listens (connection refused at once). */
const deadUrl = Effect.scoped(Effect.map(scriptedTracker({ mode: "ok", interval: 60 }), (t) => t.url))

const trackerLayer = Tracker.layer({ udpBind: { host: "127.0.0.1", port: 0 } }).pipe(
  Layer.provide([NodeNetwork.layer, FetchHttpClient.layer])
)

const options = (trackers: ReadonlyArray<ReadonlyArray<string>>, onPeers: AnnouncerOptions["onPeers"] = () => Effect.void): AnnouncerOptions => ({
  trackers,
  infoHash: new Uint8Array(20).fill(1),
  peerId: new Uint8Array(20).fill(2),
  port: 6881,
  stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: 100 }),
  onPeers
})

/** Real IO under it.effect: wait in real time until the tracker saw `n` requests (and no more). */
const requests = (events: ReadonlyArray<string>, n: number) =>
  waitUntil(`${n} requests`, () => events.length >= n).pipe(
    Effect.andThen(Effect.sync(() => assert.strictEqual(events.length, n, `expected ${n} requests, saw ${events.length}`)))
  )

/**
 * After `TestClock.adjust` (which runs every fiber it wakes until that fiber waits), no new
 * announce has begun: none is under way, none finished since `before`, and the tracker saw `n`.
 */
const noNewAnnounce = (announcer: Announcer, before: ReadonlyArray<TrackerStatus>, events: ReadonlyArray<string>, n: number) =>
  Effect.gen(function*() {
    const now = yield* announcer.status
    assert.isFalse(now.some((s) => s.state === "announcing"), "an announce has started")
    assert.deepStrictEqual(now.map((s) => s.lastAnnounce), before.map((s) => s.lastAnnounce), "an announce has happened")
    assert.strictEqual(events.length, n)
  })

const statusWhere = (announcer: Announcer, pred: (s: ReadonlyArray<TrackerStatus>) => boolean) =>
  announcer.changes.pipe(Stream.filter(pred), Stream.runHead, Effect.map(Option.getOrThrow))

/** The status once no announce is under way (the last answer, or failure, is recorded). */
const settled = (announcer: Announcer) => statusWhere(announcer, (s) => s.every((t) => t.state !== "announcing"))

const byUrl = (s: ReadonlyArray<TrackerStatus>, url: string) => s.find((t) => t.url === url)

describe("announcer", () => {
  it.effect("backs off exponentially with jitter while the tracker is down, then recovers", () =>
    Effect.gen(function*() {
      const t = yield* scriptedTracker({ mode: "fail", interval: 1800 })
      const peers = yield* Queue.unbounded<ReadonlyArray<Address>>()
      const announcer = yield* makeAnnouncer(options([[t.url]], (p) => Queue.offer(peers, p).pipe(Effect.asVoid)))
      yield* requests(t.events, 1)
      const failed = yield* statusWhere(announcer, (s) => s[0]?.state === "error")
      assert.include(failed[0]?.error, "HTTP status 500")
      // first retry: 15 s * [0.8, 1.2)
      const beforeFirstRetry = yield* settled(announcer)
      yield* TestClock.adjust("11 seconds")
      yield* noNewAnnounce(announcer, beforeFirstRetry, t.events, 1)
      yield* TestClock.adjust("8 seconds")
      yield* requests(t.events, 2)
      // second retry: 30 s * [0.8, 1.2); the tracker is back
      t.behaviour.mode = "ok"
      const beforeSecondRetry = yield* settled(announcer)
      yield* TestClock.adjust("23 seconds")
      yield* noNewAnnounce(announcer, beforeSecondRetry, t.events, 2)
      yield* TestClock.adjust("14 seconds")
      yield* requests(t.events, 3)
      assert.deepStrictEqual(yield* Queue.take(peers), [{ host: "10.0.0.7", port: 6881 }])
      // the failed attempts were not accepted, so the first successful one is still "started"
      assert.deepStrictEqual(t.events, ["started", "started", "started"])
      const ok = yield* statusWhere(announcer, (s) => s[0]?.state === "ok")
      const status = ok[0]
      assert.strictEqual(status?.peers, 1)
      assert.isUndefined(status?.error)
      assert.strictEqual((status?.nextAnnounce ?? 0) - (status?.lastAnnounce ?? 0), 1800_000)
      // then the regular interval
      const beforeInterval = yield* settled(announcer)
      yield* TestClock.adjust("1799 seconds")
      yield* noNewAnnounce(announcer, beforeInterval, t.events, 3)
      yield* TestClock.adjust("1 second")
      yield* requests(t.events, 4)
      assert.strictEqual(t.events[3], "")
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.effect("promotes the tracker that answers to the front of its tier, and fails over to the next tier", () =>
    Effect.gen(function*() {
      const dead = yield* deadUrl
      const good = yield* scriptedTracker({ mode: "ok", interval: 600 })
      const backup = yield* scriptedTracker({ mode: "ok", interval: 600 })
      const announcer = yield* makeAnnouncer(options([[dead, good.url], [backup.url]]))
      const first = yield* statusWhere(announcer, (s) => byUrl(s, good.url)?.state === "ok")
      assert.deepStrictEqual(first.map((s) => [s.url, s.tier]), [[good.url, 0], [dead, 0], [backup.url, 1]])
      assert.deepStrictEqual(backup.events, [])
      const deadTried = byUrl(first, dead)?.lastAnnounce

      // next round starts with the promoted tracker: the dead one is not tried again
      yield* TestClock.adjust("600 seconds")
      yield* requests(good.events, 2)
      const second = yield* statusWhere(announcer, (s) => byUrl(s, good.url)?.lastAnnounce === 600_000)
      assert.strictEqual(byUrl(second, dead)?.lastAnnounce, deadTried)

      // the whole first tier fails: tier 2 gets the announce (its first, so "started")
      good.behaviour.mode = "fail"
      yield* TestClock.adjust("600 seconds")
      yield* requests(backup.events, 1)
      assert.deepStrictEqual(backup.events, ["started"])
      const third = yield* statusWhere(announcer, (s) => byUrl(s, backup.url)?.state === "ok")
      assert.strictEqual(byUrl(third, good.url)?.state, "error")
      assert.strictEqual(byUrl(third, dead)?.state, "error")
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.effect("completed is sent as soon as the min interval allows", () =>
    Effect.gen(function*() {
      const t = yield* scriptedTracker({ mode: "ok", interval: 1800, minInterval: 300 })
      const announcer = yield* makeAnnouncer(options([[t.url]]))
      yield* requests(t.events, 1)
      yield* statusWhere(announcer, (s) => s[0]?.state === "ok")
      yield* announcer.completed
      const beforeMinInterval = yield* settled(announcer)
      yield* TestClock.adjust("299 seconds")
      yield* noNewAnnounce(announcer, beforeMinInterval, t.events, 1)
      yield* TestClock.adjust("1 second")
      yield* requests(t.events, 2)
      assert.deepStrictEqual(t.events, ["started", "completed"])
      // back to the regular interval afterwards, with no event
      yield* TestClock.adjust("1800 seconds")
      yield* requests(t.events, 3)
      assert.strictEqual(t.events[2], "")
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.effect("a failing onPeers callback does not stop the announcer", () =>
    Effect.gen(function*() {
      const t = yield* scriptedTracker({ mode: "ok", interval: 120 })
      yield* makeAnnouncer(options([[t.url]], () => Effect.die("consumer crashed")))
      yield* requests(t.events, 1)
      yield* TestClock.adjust("120 seconds")
      yield* requests(t.events, 2)
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.effect("closing the scope sends stopped to the trackers told started, bounded by a timeout", () =>
    Effect.gen(function*() {
      const t = yield* scriptedTracker({ mode: "ok", interval: 1800 })
      const never = yield* deadUrl // never answered: must not hear stopped
      const scope = yield* Scope.make()
      const announcer = yield* makeAnnouncer(options([[t.url], [never]])).pipe(Scope.provide(scope))
      yield* statusWhere(announcer, (s) => byUrl(s, t.url)?.state === "ok")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(t.events, ["started", "stopped"])

      // a tracker that hangs on stopped holds the close for at most 5 s
      const scope2 = yield* Scope.make()
      const announcer2 = yield* makeAnnouncer(options([[t.url]])).pipe(Scope.provide(scope2))
      yield* statusWhere(announcer2, (s) => s[0]?.state === "ok")
      t.behaviour.mode = "hang"
      const closing = yield* Effect.forkChild(Scope.close(scope2, Exit.void))
      yield* requests(t.events, 4)
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(closing.pollUnsafe())
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      assert.strictEqual(t.events[3], "stopped")
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))

  it.effect("no trackers: nothing happens, status is empty", () =>
    Effect.gen(function*() {
      const announcer = yield* makeAnnouncer(options([[], []]))
      assert.deepStrictEqual(yield* announcer.status, [])
      yield* announcer.completed
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* announcer.status, [])
    }).pipe(Effect.scoped, Effect.provide(trackerLayer, { local: true })))
})
