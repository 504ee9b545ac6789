/**
 * Local Service Discovery (BEP 14) in the simulator, in virtual time: the real `makeLsd`
 * over the simulated network (one multicast link for the whole world).
 *
 * - A swarm with no tracker in which nobody is given an address forms by LSD alone, and
 *   replays byte for byte under a seed (without LSD the same swarm never starts).
 * - The rate limits, counted over 30.5 virtual minutes: at most one datagram a minute from a
 *   client, within 1400 bytes, as few as the torrents need; each torrent announced when it
 *   starts and every 5 minutes (4 once, to join a datagram);
 *   an announce heard again and again is acted on at most once a minute; a client's own
 *   announces are dropped; a private torrent is never announced nor looked up.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { toHex } from "../src/bytes.ts"
import { LSD_GROUP_V4, LSD_PORT, makeLsd, formatAnnounces, MAX_ANNOUNCE_BYTES, parseAnnounce } from "../src/lsd/index.ts"
import { addressOf, advanceUntil, inVirtualTime, makeWorld, runScenario, SimNetwork } from "../src/sim/index.ts"
import type { SwarmHooks } from "../src/torrent/index.ts"
import { simEventsOf } from "./support/trace.ts"

const KiB = 1024
const MiB = 1024 * KiB
const MINUTE = 60_000

describe("LSD in the simulator", () => {
  it.effect("a swarm with no tracker and no addresses forms by LSD alone; the same seed gives the same trace", () =>
    Effect.gen(function*() {
      const spec = { torrent: { size: 2 * MiB, pieceLength: 64 * KiB }, seeds: 1, leechers: 8, tracker: false, lsd: true, deadlineMs: 10 * MINUTE } as const
      const a = yield* runScenario({ ...spec, seed: "lsd" })
      assert.isTrue(a.allComplete, "every leecher completes")
      const clients = [addressOf("seed", 0), ...Array.from({ length: 8 }, (_, i) => addressOf("leecher", i))]
      const sent = simEventsOf(a.trace, "multicast")
      assert.deepStrictEqual(new Set(sent.map((m) => String(m.from))), new Set(clients.map((c) => `${c}:${LSD_PORT}`)), "every client announced")
      for (const m of sent) assert.strictEqual(m.to, `${LSD_GROUP_V4}:${LSD_PORT}`)
      // One announce each at start-up, and the next only 5 minutes later: the swarm formed on the first ones.
      assert.strictEqual(sent.length, clients.length)
      assert.isBelow(Math.max(...a.peers.filter((p) => p.role === "leecher").map((p) => p.completedAtMs ?? Infinity)), 5 * MINUTE)
      assert.deepStrictEqual(simEventsOf(a.trace, "tracker-announce"), [])

      const b = yield* runScenario({ ...spec, seed: "lsd" })
      const c = yield* runScenario({ ...spec, seed: "other" })
      assert.strictEqual(a.trace.join("\n"), b.trace.join("\n"))
      assert.notStrictEqual(a.trace.join("\n"), c.trace.join("\n"))
      assert.deepStrictEqual(a.peers, b.peers)

      // The control: the same swarm with LSD off in every client never starts.
      const off = yield* runScenario({ ...spec, seed: "lsd", client: { lsd: false }, deadlineMs: 5 * MINUTE })
      assert.isFalse(off.allComplete)
      assert.deepStrictEqual(simEventsOf(off.trace, "multicast"), [])
      for (const p of off.peers) assert.strictEqual(p.bytesFromSeeds + p.bytesFromPeers, 0)
    }), 120_000)

  it.effect("rate limits over 30.5 virtual minutes; own announces dropped; a private torrent never announced nor looked up", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 5 })
      const client = SimNetwork.networkOf(world, "10.0.0.1")
      const other = SimNetwork.networkOf(world, "10.0.0.2")
      const lsd = yield* makeLsd(client, { interface: "10.0.0.1" })
      // A raw member of the group on another host: what goes on the wire, when.
      const heard: Array<{ readonly at: number; readonly bytes: number; readonly hashes: ReadonlyArray<string> }> = []
      const member = yield* other.udp({ host: "0.0.0.0", port: LSD_PORT }, { multicast: { group: LSD_GROUP_V4, interface: "10.0.0.2" } })
      member.subscribe({
        datagram: (payload, from) => {
          const parsed = parseAnnounce(payload)
          if (from.host === "10.0.0.1" && Result.isSuccess(parsed)) heard.push({ at: world.events.now(), bytes: payload.length, hashes: parsed.success.infoHashes })
        },
        idle: () => {},
        end: () => {}
      })

      // 50 public torrents: 40 at once (two datagrams' worth), 10 more a minute and a half later; and a private one.
      const hashOf = (i: number) => toHex(new Uint8Array(20).fill(i + 1))
      const added = new Map<string, Array<string>>()
      const start = (i: number, isPrivate: boolean) =>
        lsd.source({
          infoHash: new Uint8Array(20).fill(i + 1),
          peerId: new Uint8Array(20),
          port: 6881,
          isPrivate,
          trackers: [],
          stats: Effect.succeed({ uploaded: 0, downloaded: 0, left: 0 }),
          completed: Effect.never,
          addPeers: (addresses, source) => Effect.sync(() => {
            assert.strictEqual(source, "lsd")
            added.set(hashOf(i), [...(added.get(hashOf(i)) ?? []), ...addresses.map((a) => `${a.host}:${a.port}`)])
          }),
          reportTracker: () => Effect.void
        } satisfies SwarmHooks)
      const PRIVATE = 99
      yield* start(PRIVATE, true)
      for (let i = 0; i < 40; i++) yield* start(i, false)
      yield* advanceUntil({ done: () => false, deadlineMs: 1.5 * MINUTE })
      for (let i = 40; i < 50; i++) yield* start(i, false)

      // Another host announces torrent 0 and the private one every 5 s for the whole run.
      const [again] = formatAnnounces(LSD_GROUP_V4, 7000, [hashOf(0), hashOf(PRIVATE)], "someone")
      const window = 30.5 * MINUTE
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(member.send(again ?? new Uint8Array(), { host: LSD_GROUP_V4, port: LSD_PORT }), Effect.sleep("5 seconds"))))
      yield* advanceUntil({ done: () => false, deadlineMs: window })

      // At most one datagram a minute, each within 1400 bytes.
      assert.isAbove(heard.length, 0)
      for (const d of heard) assert.isAtMost(d.bytes, MAX_ANNOUNCE_BYTES)
      for (let k = 1; k < heard.length; k++) {
        assert.isAtLeast((heard[k]?.at ?? 0) - (heard[k - 1]?.at ?? 0), MINUTE, `datagrams ${k - 1} and ${k}: ${JSON.stringify(heard.map((d) => d.at))}`)
      }
      // Each public torrent: announced once it started (within the minute the sender may owe),
      // then every 5 minutes: gaps of 4 to 6 minutes, 6 or 7 announces in 30.5 minutes.
      for (let i = 0; i < 50; i++) {
        const times = heard.filter((d) => d.hashes.includes(hashOf(i))).map((d) => d.at)
        const startedAt = i < 40 ? 0 : 1.5 * MINUTE
        assert.isAtMost((times[0] ?? Infinity) - startedAt, 2 * MINUTE, `torrent ${i}: ${JSON.stringify(times)}`)
        for (let k = 1; k < times.length; k++) {
          const gap = (times[k] ?? 0) - (times[k - 1] ?? 0)
          assert.isTrue(gap >= 4 * MINUTE && gap <= 6 * MINUTE, `torrent ${i}: ${JSON.stringify(times)}`)
        }
        assert.include([6, 7], times.length, `torrent ${i}: ${JSON.stringify(times)}`)
      }
      assert.isFalse(heard.some((d) => d.hashes.includes(hashOf(PRIVATE))), "the private torrent was announced")
      // Torrents started a minute and a half apart share datagrams from the second round on:
      // as few datagrams per 5 minutes as 50 info-hashes need (2 of 25, not one per start time).
      const perDatagram = Math.max(...heard.map((d) => d.hashes.length))
      for (let w = 5 * MINUTE; w + 5 * MINUTE <= window; w += 5 * MINUTE) {
        const inWindow = heard.filter((d) => d.at >= w && d.at < w + 5 * MINUTE)
        assert.strictEqual(inWindow.length, Math.ceil(50 / perDatagram), `from ${w / MINUTE} min: ${JSON.stringify(heard.map((d) => [d.at, d.hashes.length]))}`)
      }

      // Heard every 5 s from minute 1.5 on, the other host is handed to torrent 0 once a minute at most;
      // the client's own announces (looped back to it) never; the private torrent never looks.
      const handed = added.get(hashOf(0)) ?? []
      assert.isAtLeast(handed.length, 29)
      assert.isAtMost(handed.length, 31)
      assert.deepStrictEqual(new Set(handed), new Set(["10.0.0.2:7000"]))
      assert.deepStrictEqual([...added.keys()], [hashOf(0)])
    }), { seed: 1 }), 60_000)
})
