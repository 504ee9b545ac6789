/**
 * Protocol violations: each misbehaving peer is disconnected on its first violation with a
 * reason that names it (PeerDisconnected), the client closes the socket itself, nothing
 * attacker-sized is allocated, and the download goes on from an honest WebTorrent seeder to
 * a byte-identical end. The run's trace names each violator's close and its reason.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { join } from "node:path"
import { memoryUsage } from "node:process"
import { memorySink } from "../src/trace/index.ts"
import { encodeMessage } from "../src/wire/index.ts"
import { decodeLines, eventsOf } from "./support/trace.ts"
import { awaitComplete, recordEvents, startClient, waitForState, waitUntil } from "./support/engine.ts"
import { tempDir, writePayload } from "./support/files.ts"
import { type ScriptedPeer, type ScriptedPeerOptions, scriptedPeer } from "./support/scripted-peer.ts"
import { differingFiles, fixtureFrom } from "./support/torrent-fixture.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"

const PIECE = 32 * 1024
// 33 pieces: the bitfield's last byte has 7 spare bits.
const FILES = { "album/a.bin": 1_000_003, "album/b.bin": 77_777 }

const u32 = (n: number) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff)

interface Violation {
  readonly name: string
  readonly script: (pieceCount: number) => Partial<ScriptedPeerOptions>
  readonly reason: (pieceCount: number) => RegExp
}

const violations: ReadonlyArray<Violation> = [
  {
    name: "garbage frame (a choke carrying 7 junk bytes)",
    script: () => ({ afterOpening: [Uint8Array.of(0, 0, 0, 8, 0, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0x00)] }),
    reason: () => /message id 0 \(choke\): expected 1 bytes, got 8/
  },
  {
    // Only the prefix is sent and the socket stays open: the client must not wait for 4 GiB.
    name: "oversize length prefix",
    script: () => ({ afterOpening: [u32(0xffff_fff0)] }),
    reason: () => /frame length 4294967280 exceeds the limit/
  },
  {
    name: "bitfield with spare bits set",
    script: (pieceCount) => ({ bitfield: new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff) }),
    reason: (pieceCount) => new RegExp(`bitfield: spare bits after piece ${pieceCount - 1} are set`)
  },
  {
    name: "bitfield of the wrong length",
    script: (pieceCount) => ({ bitfield: new Uint8Array(Math.ceil(pieceCount / 8) - 1).fill(0xff) }),
    reason: (pieceCount) => new RegExp(`bitfield: expected ${Math.ceil(pieceCount / 8)} bytes for ${pieceCount} pieces, got ${Math.ceil(pieceCount / 8) - 1}`)
  },
  {
    name: "have for an out-of-range piece",
    script: () => ({ afterOpening: [encodeMessage({ _tag: "Have", index: 0xffff_ffff })] }),
    reason: (pieceCount) => new RegExp(`have for piece 4294967295, but the torrent has ${pieceCount}`)
  },
  {
    name: "piece message with a wrong length",
    script: () => ({
      respond: (r, block) => [encodeMessage({ _tag: "Piece", index: r.piece, begin: r.begin, block: block.subarray(0, 100) })]
    }),
    reason: () => /piece message for 100 bytes at \d+ of piece \d+ is not a block of this torrent/
  }
]

describe("failure: protocol violations", () => {
  it.live("each violator is dropped with a reason naming its violation; the download completes from WebTorrent", () =>
    Effect.gen(function*() {
      const source = yield* tempDir()
      const out = yield* tempDir()
      yield* writePayload(source, FILES)
      const wt = yield* webTorrentClient
      const fixture = yield* fixtureFrom(source, yield* seed(wt.client, join(source, "album"), { pieceLength: PIECE }))
      const { pieceCount } = fixture.metainfo
      assert.strictEqual(pieceCount % 8 === 0, false, "the torrent needs spare bitfield bits")

      const bad: Array<{ readonly violation: Violation; readonly peer: ScriptedPeer }> = []
      for (const violation of violations) {
        const peer = yield* scriptedPeer({
          infoHash: fixture.infoHash,
          data: fixture.data,
          pieceLength: fixture.metainfo.pieceLength,
          ...violation.script(pieceCount)
        })
        bad.push({ violation, peer })
      }

      const client = yield* startClient(out)
      const trace = memorySink()
      const torrent = yield* client.add(fixture.torrent, { trace: { sink: trace } })
      const log = yield* recordEvents(torrent)
      const buffersBefore = memoryUsage().arrayBuffers
      yield* torrent.addPeers([...bad.map((b) => b.peer.address), { host: "127.0.0.1", port: wt.port }])

      for (const { violation, peer } of bad) {
        const ended = yield* log.waitFor(
          `${violation.name}: disconnect of ${peer.key}`,
          (e) => e._tag === "PeerDisconnected" && e.peer === peer.key
        )
        assert.match(ended._tag === "PeerDisconnected" ? ended.reason : "", violation.reason(pieceCount), violation.name)
        assert.strictEqual(ended._tag === "PeerDisconnected" ? ended.kind : "", "Protocol", violation.name)
        yield* waitUntil(`${violation.name}: the client to close the socket`, () => peer.closedByClient() > 0, 3)
        assert.deepStrictEqual(peer.decodeErrors(), [], `${violation.name}: the client's own frames decode`)
      }
      // A 4 GiB prefix must not turn into a 4 GiB buffer (generous bound: the download itself is 1 MiB).
      assert.isBelow(memoryUsage().arrayBuffers - buffersBefore, 256 * 1024 * 1024)

      yield* awaitComplete(torrent, log)
      const state = yield* waitForState(torrent, "seeding", (s) => s.status === "seeding")
      assert.strictEqual(state.piecesVerified, pieceCount)
      assert.deepStrictEqual(log.all().filter((e) => e._tag === "Error" || e._tag === "HashFailed"), [])
      assert.deepStrictEqual(yield* differingFiles(fixture.metainfo, source, out), [])

      // The trace of this real run: every line decodes with the one schema, and each
      // violator's connection ends with its typed reason and the violation named.
      const closes = eventsOf(trace.lines, "close")
      for (const { violation, peer } of bad) {
        const close = closes.find((c) => c.peer === peer.key)
        assert.strictEqual(close?.reason, "Protocol", `${violation.name}: ${JSON.stringify(close)}`)
        assert.match(String(close?.detail), violation.reason(pieceCount), violation.name)
      }
      const fromWebTorrent = decodeLines(trace.lines).filter((l) => l.peer?.addr === `127.0.0.1:${wt.port}`)
      assert.isTrue(fromWebTorrent.some((l) => l.ev.type === "Piece" && l.dir === "in"))
      assert.match(fromWebTorrent.at(-1)?.peer?.client ?? "", /WebTorrent/)
    }))
})
