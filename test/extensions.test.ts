/**
 * BEP 9 / BEP 11 on the wire: codecs, the PEX delta, and a WebTorrent peer that knows
 * only a magnet link fetching the info dict from our seeder over ut_metadata.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Context, Effect, Layer, Result } from "effect"
import * as fc from "fast-check"
import { join } from "node:path"
import { Client, layerNode } from "../src/client/index.ts"
import { createTorrent } from "../src/metainfo/create.ts"
import { formatMagnet } from "../src/metainfo/index.ts"
import { pexDelta } from "../src/torrent/pex.ts"
import { decodeUtMetadata, decodeUtPex, encodeUtMetadata, encodeUtPex, PEX_PREFERS_ENCRYPTION, PEX_UTP } from "../src/wire/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { webTorrentClient } from "./support/webtorrent.ts"

describe("ut_metadata and ut_pex codecs", () => {
  it("ut_metadata messages round-trip; data is a view of at most one piece", () => {
    const data = new Uint8Array(1000).fill(7)
    for (const m of [
      { _tag: "Request", piece: 3 } as const,
      { _tag: "Reject", piece: 0 } as const,
      { _tag: "Data", piece: 1, totalSize: 17384, data } as const
    ]) {
      assert.deepStrictEqual(decodeUtMetadata(encodeUtMetadata(m)), Result.succeed(m))
    }
    const oversized = encodeUtMetadata({ _tag: "Data", piece: 0, totalSize: 99999, data: new Uint8Array(16385) })
    assert.isTrue(Result.isFailure(decodeUtMetadata(oversized)))
  })

  it("random bytes never throw", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      decodeUtMetadata(bytes)
      decodeUtPex(bytes)
    }))
  })

  it("ut_pex: IPv4 peers round-trip, with their flags (0x04: supports uTP); IPv6 peers go in added6/dropped6, after the IPv4 ones", () => {
    const m = {
      added: [{ host: "10.1.2.3", port: 6881, flags: PEX_UTP }, { host: "127.0.0.1", port: 51413 }, { host: "10.9.9.9", port: 7, flags: 0x12 }],
      dropped: [{ host: "1.2.3.4", port: 1 }]
    }
    assert.deepStrictEqual(decodeUtPex(encodeUtPex(m)), Result.succeed(m))
    const v6 = { added: [{ host: "2001:db8::1", port: 2 }, { host: "10.1.2.3", port: 3 }], dropped: [{ host: "::1", port: 4 }] }
    assert.deepStrictEqual(
      decodeUtPex(encodeUtPex(v6)),
      Result.succeed({ added: [{ host: "10.1.2.3", port: 3 }, { host: "2001:db8::1", port: 2 }], dropped: [{ host: "::1", port: 4 }] })
    )
  })

  it("ut_pex: added.f flags round-trip and line up with their peers (0x01: prefers encryption)", () => {
    const a = { host: "10.1.2.3", port: 6881, flags: PEX_PREFERS_ENCRYPTION }
    const b = { host: "10.1.2.4", port: 6882 }
    const c = { host: "10.1.2.5", port: 1, flags: 0x05 }
    const v6 = { host: "::1", port: 5, flags: PEX_PREFERS_ENCRYPTION }
    const decoded = decodeUtPex(encodeUtPex({ added: [a, v6, b, { ...b, port: 9, flags: 0 }, c, { host: "::2", port: 6 }], dropped: [] }))
    // IPv4 peers come first (added), then IPv6 (added6); a zero flag byte reads back as no flags
    assert.deepStrictEqual(decoded, Result.succeed({ added: [a, b, { ...b, port: 9 }, c, v6, { host: "::2", port: 6 }], dropped: [] }))
  })

  it("the PEX delta adds new peers, drops departed ones, never the peer itself, at most 50 each", () => {
    const a = (n: number) => ({ host: `10.0.0.${n}`, port: 6881 })
    const map = (ns: ReadonlyArray<number>) => new Map(ns.map((n) => [`10.0.0.${n}:6881`, a(n)]))
    const delta = pexDelta(map([1, 2]), map([2, 3, 4]), "10.0.0.4:6881")
    assert.deepStrictEqual(delta, { added: [a(3)], dropped: [a(1)] })
    const many = pexDelta(new Map(), map(Array.from({ length: 120 }, (_, i) => i)), "")
    assert.strictEqual(many.added.length, 50)
  })
})

describe("serving metadata (BEP 9)", () => {
  it.live("a WebTorrent peer given only a magnet link gets the info dict and the data from our seeder", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "seed"), { "pics/a.bin": 900_000, "pics/b.bin": 70_000 })
      const created = yield* createTorrent(join(dir, "seed", "pics"), { pieceLength: 32768 }).pipe(Effect.provide(NodeFileSystem.layer))
      const context = yield* Layer.build(Layer.fresh(layerNode({ host: "127.0.0.1", port: 0, downloadDirectory: join(dir, "seed") })))
      const client = Context.get(context, Client)
      const seeding = yield* client.add(created.torrent)
      yield* seeding.whenComplete
      const magnet = formatMagnet({
        infoHash: created.metainfo.infoHash,
        infoHashV2: null,
        name: null,
        trackers: [],
        webSeeds: [],
        peers: [],
        selectOnly: null
      })
      const wt = yield* webTorrentClient
      yield* Effect.callback<void>((resume) => {
        const t = wt.client.add(magnet, { path: join(dir, "wt") })
        t.on("infoHash", () => t.addPeer(`127.0.0.1:${client.port}`))
        t.once("done", () => resume(Effect.void))
      }).pipe(Effect.timeout("60 seconds"))
      assert.isTrue(yield* sameFile(join(dir, "seed", "pics", "a.bin"), join(dir, "wt", "pics", "a.bin")))
      assert.isTrue(yield* sameFile(join(dir, "seed", "pics", "b.bin"), join(dir, "wt", "pics", "b.bin")))
    }))
})
