/**
 * The library warns, as the CLI does, when a torrent has had no peer for 30 s, and says why
 * there may be none (an embedder's torrent otherwise sits at 0% in silence).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { join } from "node:path"
import { Client, layerNode } from "../src/client/index.ts"
import { noPeersMessage } from "../src/client/no-peers.ts"
import { tempDir } from "./support/files.ts"
import { makeTorrent } from "./support/torrent-fixture.ts"

const warnings: Array<string> = []
const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
  if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
})

describe("client: the no-peers warning", () => {
  it.effect("a downloading torrent without a peer for 30 s logs why; the message names each missing source", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const fixture = yield* makeTorrent(join(dir, "seed"), "pay", { "a.bin": 100_000 }, 16384)
      const client = yield* Layer.build(Layer.fresh(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory: join(dir, "out"), trackers: false, hashThreads: 0 }))).pipe(
        Effect.map((context) => Context.get(context, Client))
      )
      yield* client.add(fixture.torrent)
      yield* TestClock.adjust("29 seconds")
      assert.deepStrictEqual(warnings, [])
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(warnings, [
        "pay: no peers after 30s (trackers are off (ClientConfig.trackers); the DHT is off (ClientConfig.dht); no peers were given (AddOptions.peers))"
      ])
    }).pipe(Effect.provide(Logger.layer([capture]))))

  it("names failing trackers", () => {
    const line = noPeersMessage("x", [{ url: "http://t/announce", ok: false, message: "connection refused" }], { trackers: true, dht: true, initialPeers: 1 })
    assert.strictEqual(line, "x: no peers after 30s (tracker errors: http://t/announce: connection refused)")
  })
})
