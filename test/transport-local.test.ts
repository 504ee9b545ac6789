/**
 * The uTP-to-TCP fallback delay per peer (client/transports.ts): a peer on loopback or
 * the local network gets `localTransportFallbackMillis` (default 50), others
 * `transportFallbackMillis`. A TCP-only WebTorrent seeder on 127.0.0.1, a UDP socket on its
 * port that swallows uTP, and the distant delay set to ten minutes: with the local delay, TCP
 * starts 50 ms after the first SYN and wins, so the silent socket sees that one SYN only; the
 * distant delay would leave uTP to retry its SYN (after 1 s, then 2 s) until it gives up.
 */
import { FetchHttpClient } from "effect/http"
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Layer, SubscriptionRef } from "effect"
import { join } from "node:path"
import { Client } from "../src/client/index.ts"
import { resolveConfig } from "../src/client/config.ts"
import { Network, NodeNetwork } from "../src/net/index.ts"
import { FileStorage } from "../src/storage/index.ts"
import { codec } from "../src/utp/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

describe("transport fallback for local peers", () => {
  it("defaults: 1000 ms for distant peers, 50 ms on loopback and the LAN", () => {
    const config = resolveConfig({})
    assert.strictEqual(config.transportFallbackMillis, 1000)
    assert.strictEqual(config.localTransportFallbackMillis, 50)
    assert.strictEqual(resolveConfig({ localTransportFallbackMillis: 0 }).localTransportFallbackMillis, 0)
  })

  it.live("a TCP-only seeder on 127.0.0.1 is reached after the local delay, not the distant one", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      yield* writePayload(source, { "one.bin": 300_001 })
      // WebTorrent here speaks TCP only (utp: false): our first uTP SYN goes unanswered
      const wt = yield* webTorrentClient
      const silent = yield* (yield* Network).udp({ host: "127.0.0.1", port: wt.port })
      let syns = 0
      silent.subscribe({
        datagram: (p) => {
          if (codec.looksLikeUtp(p) && (p[0] ?? 0) >> 4 === codec.ST_SYN) syns++
        },
        idle: () => {},
        end: () => {}
      })
      const torrentFile = yield* seed(wt.client, join(source, "one.bin"))
      yield* Effect.gen(function*() {
        const client = yield* Client
        const torrent = yield* client.add(torrentFile, { peers: [{ host: "127.0.0.1", port: wt.port }] })
        yield* torrent.whenComplete
        assert.strictEqual(SubscriptionRef.getUnsafe(torrent.state).verifiedBytes, 300_001)
      }).pipe(
        Effect.provide(
          Client.layer({
            host: "127.0.0.1",
            port: 0,
            downloadDirectory: out,
            trackers: false,
            transports: ["utp", "tcp"],
            transportFallbackMillis: 600_000
          }).pipe(
            Layer.provide(Layer.mergeAll(NodeNetwork.layer, FetchHttpClient.layer, FileStorage.layer.pipe(Layer.provideMerge(NodeFileSystem.layer))))
          ),
          { local: true }
        )
      )
      assert.isTrue(yield* sameFile(join(source, "one.bin"), join(out, "one.bin")))
      assert.strictEqual(syns, 1)
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)), 60_000)
})
