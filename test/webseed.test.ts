/**
 * Web seeds end to end: our client (real sockets, real files) downloading from a real HTTP
 * server on 127.0.0.1 with Range support (test/support/web-seed-server.ts), with no peer at
 * all. Seeds that answer 503, serve corrupt bytes, redirect, or lie in `Content-Range` sit
 * beside a good one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdir, readFile, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { type Encodable, encode } from "../src/bencode/index.ts"
import { parseMetainfo } from "../src/metainfo/index.ts"
import { percentEncodeBytes } from "../src/tracker/index.ts"
import { piecesOf, content } from "./metainfo-helpers.ts"
import { recordEvents, startClient } from "./support/engine.ts"
import { tempDir } from "./support/files.ts"
import { startWebSeedServer } from "./support/web-seed-server.ts"

interface FileSpec {
  readonly path: ReadonlyArray<string>
  readonly length: number
  readonly pad?: boolean
}

/**
 * Writes the files under `root/name` (padding files are not written: they are zeros) and
 * returns the .torrent (multi-file unless `single`), with `top` keys such as `url-list`.
 */
const makeFixture = (root: string, name: string, files: ReadonlyArray<FileSpec>, pieceLength: number, top: (name: string) => Record<string, Encodable>, single = false) =>
  Effect.promise(async () => {
    const total = files.reduce((n, f) => n + f.length, 0)
    const payload = new Uint8Array(total)
    let at = 0
    for (const [i, f] of files.entries()) {
      if (!f.pad) {
        const data = content(f.length, i + 7)
        payload.set(data, at)
        const full = single ? join(root, name) : join(root, name, ...f.path)
        await mkdir(dirname(full), { recursive: true })
        await writeFile(full, data)
      }
      at += f.length
    }
    const info: Record<string, Encodable> = single
      ? { name, "piece length": pieceLength, length: total, pieces: piecesOf(payload, pieceLength) }
      : {
        name,
        "piece length": pieceLength,
        pieces: piecesOf(payload, pieceLength),
        files: files.map((f) => f.pad ? { length: f.length, path: [...f.path], attr: "p" } : { length: f.length, path: [...f.path] })
      }
    return { torrent: encode({ ...top(name), info }), payload }
  })

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0

describe("web seeds", () => {
  it.live("a torrent whose only source is its web seed (BEP 19) downloads completely, in merged ranges", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-ws-src-")
      const out = yield* tempDir("et-ws-out-")
      const server = yield* startWebSeedServer(root)
      const { torrent, payload } = yield* makeFixture(root, "big.bin", [{ path: ["big.bin"], length: 3 * 1024 * 1024 + 12345 }], 65536,
        (name) => ({ "url-list": `${server.base}/good/${name}` }), true)
      const client = yield* startClient(out)
      const t = yield* client.add(torrent)
      yield* t.whenComplete.pipe(Effect.timeout("30 seconds"))
      const got = yield* Effect.promise(() => readFile(join(out, "big.bin")))
      assert.isTrue(sameBytes(got, payload), "downloaded bytes differ from the seed's")
      const ranged = server.requests.filter((r) => r.status === 206)
      assert.isAbove(ranged.length, 0)
      // Blocks are merged: requests far larger than one 16 KiB block.
      assert.isAtLeast(Math.max(...ranged.map((r) => r.bytes)), 256 * 1024)
      assert.isBelow(ranged.length, 64, `${ranged.length} requests for 3 MiB`)
    }))

  it.live("a multi-file torrent downloads from web seeds alone beside a corrupt and a 503 seed; padding is never requested", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-ws-src-")
      const out = yield* tempDir("et-ws-out-")
      const server = yield* startWebSeedServer(root)
      const pieceLength = 32768
      const files: ReadonlyArray<FileSpec> = [
        { path: ["a.bin"], length: 100_000 },
        { path: [".pad", "0"], length: 131072 - 100_000, pad: true },
        { path: ["sub", "b c.bin"], length: 700_000 },
        { path: ["empty.txt"], length: 0 },
        { path: ["sub", "ü.bin"], length: 333_333 }
      ]
      const { torrent, payload } = yield* makeFixture(root, "multi", files, pieceLength,
        () => ({ "url-list": [`${server.base}/busy/`, `${server.base}/corrupt/`, `${server.base}/good`] }))
      const meta = yield* parseMetainfo(torrent)
      const client = yield* startClient(out)
      const t = yield* client.add(torrent)
      const events = yield* recordEvents(t)
      yield* t.whenComplete.pipe(Effect.timeout("60 seconds"))
      for (const f of meta.files) {
        if (f.padding || f.length === 0) continue
        const got = yield* Effect.promise(() => readFile(join(out, ...f.path)))
        assert.isTrue(sameBytes(got, payload.subarray(f.offset, f.offset + f.length)), `${f.path.join("/")} differs`)
      }
      // Which seed's copy of a block arrives first is a race (endgame asks several), so the
      // corrupt seed's bytes may never be used; when they were, it alone answers for them.
      const banned = events.all().flatMap((e) => (e._tag === "PeerBanned" ? [e.peer] : []))
      if (events.all().some((e) => e._tag === "HashFailed")) assert.deepStrictEqual(banned, [`${server.base}/corrupt/`])
      else assert.deepStrictEqual(banned, [])
      assert.isTrue(server.requests.some((r) => r.mode === "busy" && r.status === 503), "the busy seed was asked")
      assert.isFalse(server.requests.some((r) => r.path.includes(".pad")), "a padding file was requested")
      assert.isTrue(server.requests.some((r) => r.mode === "good" && r.path === "multi/sub/ü.bin"), "non-ASCII path requested")
    }))

  it.live("a seed serving corrupt bytes is banned for the torrent after its first bad piece", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-ws-src-")
      const out = yield* tempDir("et-ws-out-")
      const server = yield* startWebSeedServer(root)
      const { torrent } = yield* makeFixture(root, "c.bin", [{ path: ["c.bin"], length: 300_000 }], 16384,
        (name) => ({ "url-list": `${server.base}/corrupt/${name}` }), true)
      const client = yield* startClient(out)
      const t = yield* client.add(torrent)
      const events = yield* recordEvents(t)
      const ban = yield* events.waitFor("the corrupt seed banned", (e) => e._tag === "PeerBanned")
      assert.deepInclude(ban, { peer: `${server.base}/corrupt/c.bin` })
      const failed = events.all().find((e) => e._tag === "HashFailed")
      assert.deepInclude(failed, { peers: [`${server.base}/corrupt/c.bin`] })
      assert.isFalse(events.all().some((e) => e._tag === "PieceVerified"), "a corrupt piece verified")
    }))

  it.live("redirects are followed; a seed whose Content-Range lies has its requests dropped, not its data used", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-ws-src-")
      const out = yield* tempDir("et-ws-out-")
      const server = yield* startWebSeedServer(root)
      const { torrent, payload } = yield* makeFixture(root, "r.bin", [{ path: ["r.bin"], length: 600_000 }], 16384,
        (name) => ({ "url-list": [`${server.base}/badrange/${name}`, `${server.base}/redirect/${name}`] }), true)
      const client = yield* startClient(out)
      const t = yield* client.add(torrent)
      const events = yield* recordEvents(t)
      yield* t.whenComplete.pipe(Effect.timeout("30 seconds"))
      const got = yield* Effect.promise(() => readFile(join(out, "r.bin")))
      assert.isTrue(sameBytes(got, payload))
      assert.isTrue(server.requests.some((r) => r.mode === "redirect"))
      assert.isTrue(server.requests.some((r) => r.mode === "good" && r.status === 206), "the redirect was followed")
      assert.isTrue(server.requests.some((r) => r.mode === "badrange"), "the lying seed was asked")
      assert.isFalse(events.all().some((e) => e._tag === "HashFailed"), "data under a wrong Content-Range was used")
    }))

  it.live("BEP 17 httpseeds: pieces by info-hash, a 503 with the wait in its body is retried", () =>
    Effect.gen(function*() {
      const root = yield* tempDir("et-ws-src-")
      const out = yield* tempDir("et-ws-out-")
      const server = yield* startWebSeedServer(root)
      const pieceLength = 65536
      const { torrent, payload } = yield* makeFixture(root, "h.bin", [{ path: ["h.bin"], length: 500_000 }], pieceLength,
        () => ({ httpseeds: [`${server.base}/bep17`] }), true)
      server.setPayload(payload, pieceLength, 2)
      const meta = yield* parseMetainfo(torrent)
      assert.deepStrictEqual(meta.httpSeeds, [`${server.base}/bep17`])
      const client = yield* startClient(out)
      const t = yield* client.add(torrent)
      yield* t.whenComplete.pipe(Effect.timeout("30 seconds"))
      const got = yield* Effect.promise(() => readFile(join(out, "h.bin")))
      assert.isTrue(sameBytes(got, payload))
      assert.strictEqual(server.requests.filter((r) => r.status === 503).length, 2)
      const asked = server.requests.find((r) => r.status === 200)?.path ?? ""
      assert.include(asked, `info_hash=${percentEncodeBytes(meta.infoHash ?? new Uint8Array())}&piece=`)
    }))
})
