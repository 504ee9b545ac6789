import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decode, getDict, getField, getInt, isDict } from "../src/bencode/index.ts"
import {
  choosePieceLength,
  comparePaths,
  createTorrent,
  type CreateOptions,
  PieceHasher
} from "../src/metainfo/create.ts"
import { parseMetainfo } from "../src/metainfo/index.ts"
import { CREATED_BY, PEER_ID_PREFIX, VERSION } from "../src/version.ts"
import { sha1, toHex } from "../src/bytes.ts"

const FIXTURES = path.join(import.meta.dirname, "..", "fixtures", "conformance", "webtorrent-fixtures")

/** Deterministic pseudo-random bytes (SHA-256 in counter mode). */
const bytes = (seed: string, n: number): Uint8Array => {
  const out = new Uint8Array(n)
  for (let i = 0, block = 0; i < n; block++) {
    const h = createHash("sha256").update(`${seed}:${block}`).digest()
    out.set(h.subarray(0, Math.min(32, n - i)), i)
    i += 32
  }
  return out
}


const hex = (b: Uint8Array | null) => (b === null ? null : toHex(b))

/** The piece hashes of `data`, computed the obvious way. */
const expectedPieces = (data: Uint8Array, pieceLength: number): Uint8Array => {
  const parts: Array<Uint8Array> = []
  for (let i = 0; i < data.length; i += pieceLength) parts.push(sha1(data.subarray(i, i + pieceLength)))
  return Buffer.concat(parts)
}

/** A fresh temp dir, removed when the test's scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "et-create-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const write = (root: string, rel: string, data: Uint8Array) => {
  const p = path.join(root, rel)
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, data)
}

const create = (p: string, options?: CreateOptions) =>
  createTorrent(p, options).pipe(Effect.provide(NodeFileSystem.layer))

const topLevel = (torrent: Uint8Array) => {
  const r = decode(torrent)
  if (Result.isFailure(r) || !isDict(r.success)) throw new Error("created torrent does not decode")
  return r.success
}

describe("createTorrent", () => {
  it.live("single file: name, size, pieces verify against the data", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = bytes("single", 100_000)
      write(dir, "payload.bin", data)
      const { metainfo, torrent } = yield* create(path.join(dir, "payload.bin"), { pieceLength: 16384 })
      const reparsed = yield* parseMetainfo(torrent)
      assert.strictEqual(reparsed.name, "payload.bin")
      assert.isFalse(reparsed.multiFile)
      assert.strictEqual(reparsed.totalSize, 100_000)
      assert.strictEqual(reparsed.pieceLength, 16384)
      assert.strictEqual(reparsed.pieceCount, 7)
      assert.deepStrictEqual(reparsed.files.map((f) => [f.path, f.length]), [[["payload.bin"], 100_000]])
      assert.deepStrictEqual(hex(reparsed.pieces), hex(expectedPieces(data, 16384)))
      assert.deepStrictEqual(hex(metainfo.infoHash), hex(reparsed.infoHash))
      assert.strictEqual(metainfo.version, "v1")
    }))

  it.live("directory: sorted paths under the name, pieces across file boundaries, empty files kept", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = path.join(dir, "album")
      // Deliberately created out of order; one file spans several pieces, some share one.
      const contents: Record<string, Uint8Array> = {
        "z.txt": bytes("z", 5000),
        "a-b.txt": bytes("ab", 40_000),
        "a/z.bin": bytes("az", 17_000),
        "a/b/c.bin": bytes("abc", 3),
        "empty.txt": new Uint8Array(0),
        "é.txt": bytes("e-acute", 100),
        "e.txt": bytes("e", 9)
      }
      for (const [rel, data] of Object.entries(contents)) write(root, rel, data)
      fs.mkdirSync(path.join(root, "empty-dir"))
      const { torrent } = yield* create(root, { pieceLength: 16384 })
      const m = yield* parseMetainfo(torrent)
      const order = ["a/b/c.bin", "a/z.bin", "a-b.txt", "e.txt", "empty.txt", "z.txt", "é.txt"]
      assert.strictEqual(m.name, "album")
      assert.isTrue(m.multiFile)
      assert.deepStrictEqual(m.files.map((f) => f.path.join("/")), order.map((p) => `album/${p}`))
      assert.deepStrictEqual(m.files.map((f) => f.length), order.map((p) => contents[p]?.length))
      const all = Buffer.concat(order.map((p) => contents[p] ?? new Uint8Array(0)))
      assert.strictEqual(m.totalSize, all.length)
      assert.strictEqual(m.pieceCount, Math.ceil(all.length / 16384))
      assert.deepStrictEqual(hex(m.pieces), hex(expectedPieces(all, 16384)))
    }))

  it.live("deterministic: same input twice gives identical bytes, no creation date, default created by", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(dir, "d/one", bytes("one", 70_000))
      write(dir, "d/two", bytes("two", 12_345))
      const a = yield* create(path.join(dir, "d"))
      const b = yield* create(path.join(dir, "d"))
      assert.deepStrictEqual(Buffer.from(a.torrent), Buffer.from(b.torrent))
      assert.isNull(a.metainfo.creationDate)
      assert.isUndefined(getField(topLevel(a.torrent), "creation date"))
      assert.strictEqual(a.metainfo.createdBy, CREATED_BY)
      assert.strictEqual(a.metainfo.createdBy, `effect-torrent/${VERSION}`)
      assert.isNull(a.metainfo.comment)
      assert.isFalse(a.metainfo.private)
      assert.deepStrictEqual(a.metainfo.trackers, [])
    }))

  it.live("options: tracker tiers, private, url-list, comment, creation date", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(dir, "f.bin", bytes("opts", 1000))
      const { metainfo: m, torrent } = yield* create(path.join(dir, "f.bin"), {
        trackers: [["http://a.example/announce", "udp://b.example:6969"], ["http://c.example/announce"]],
        webSeeds: ["http://seed.example/f.bin"],
        private: true,
        comment: "a comment",
        createdBy: "someone",
        creationDate: 1_700_000_000
      })
      assert.deepStrictEqual(m.trackers, [["http://a.example/announce", "udp://b.example:6969"], [
        "http://c.example/announce"
      ]])
      assert.deepStrictEqual(m.webSeeds, ["http://seed.example/f.bin"])
      assert.isTrue(m.private)
      assert.strictEqual(m.comment, "a comment")
      assert.strictEqual(m.createdBy, "someone")
      assert.strictEqual(m.creationDate, 1_700_000_000)
      const top = topLevel(torrent)
      assert.deepStrictEqual(Buffer.from(getField(top, "announce") as Uint8Array).toString(), "http://a.example/announce")
      const info = getDict(top, "info")
      assert.strictEqual(info === undefined ? undefined : getInt(info, "private"), 1)
    }))

  it.live("one tracker: announce only, no announce-list", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(dir, "f.bin", bytes("one-tracker", 10))
      const { metainfo, torrent } = yield* create(path.join(dir, "f.bin"), { trackers: [["http://only.example/a"]] })
      assert.deepStrictEqual(metainfo.trackers, [["http://only.example/a"]])
      assert.isUndefined(getField(topLevel(torrent), "announce-list"))
      assert.isDefined(getField(topLevel(torrent), "announce"))
    }))

  it.live("reproduces the info hashes of the webtorrent fixtures from their payload", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["alice.txt", "722fe65b2aa26d14f35b4ad627d20236e481d924"],
        ["folder", "b88da2caac6648e6c7d7687e3f89085f7e230e6b"],
        ["numbers", "89d97c2261a21b040cf11caa661a3ba7233bb7e6"],
        ["lots-of-numbers", "114ead6243792ba56297edbb9a78dfba84d4fc00"],
        ["Leaves of Grass by Walt Whitman.epub", "d2474e86c95b19b8bcfdb92bc12c9d44667cfa36"]
      ]
      for (const [payload, infoHash] of cases) {
        const { metainfo } = yield* create(path.join(FIXTURES, payload), { pieceLength: 16384 })
        assert.strictEqual(hex(metainfo.infoHash), infoHash, payload)
      }
    }))

  it.live("agrees with the create-torrent npm package (WebTorrent's creator) on a directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(dir, "pay/b.bin", bytes("b", 50_000))
      write(dir, "pay/sub/a.bin", bytes("a", 3000))
      write(dir, "pay/a-c.bin", bytes("ac", 20_000))
      const root = path.join(dir, "pay")
      // create-torrent is a dependency of webtorrent (a devDependency); untyped, hence the variable specifier.
      const specifier = "create-torrent"
      const mod = (yield* Effect.promise(() => import(specifier))) as {
        default: (p: string, o: object, cb: (err: Error | null, torrent: Uint8Array) => void) => void
      }
      const theirs = yield* Effect.callback<Uint8Array, Error>((resume) =>
        mod.default(root, { pieceLength: 16384, private: true }, (err, torrent) =>
          resume(err === null ? Effect.succeed(torrent) : Effect.fail(err)))
      )
      const reference = yield* parseMetainfo(theirs)
      const { metainfo } = yield* create(root, { pieceLength: 16384, private: true })
      assert.strictEqual(hex(metainfo.infoHash), hex(reference.infoHash))
      assert.deepStrictEqual(metainfo.files.map((f) => f.path), reference.files.map((f) => f.path))
    }))

  it.live("symbolic links are followed (the link's name, the target's bytes)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = bytes("target", 2000)
      write(dir, "target.bin", data)
      fs.mkdirSync(path.join(dir, "d"))
      fs.symlinkSync(path.join(dir, "target.bin"), path.join(dir, "d", "link.bin"))
      const { metainfo } = yield* create(path.join(dir, "d"), { pieceLength: 16384 })
      assert.deepStrictEqual(metainfo.files.map((f) => f.path.join("/")), ["d/link.bin"])
      assert.deepStrictEqual(hex(metainfo.pieces), hex(sha1(data)))
    }))

  it.live("fails with a typed error, naming the path: missing, empty, loop, broken link, FIFO, bad options", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const failure = (p: string, options?: CreateOptions) => Effect.flip(create(p, options))

      const missing = yield* failure(path.join(dir, "nope"))
      assert.strictEqual(missing._tag, "CreateTorrentError")
      assert.include(missing.message, "nope: no such file or directory")

      fs.mkdirSync(path.join(dir, "empty", "sub"), { recursive: true })
      assert.include((yield* failure(path.join(dir, "empty"))).message, "no files")

      write(dir, "zeros/a", new Uint8Array(0))
      assert.include((yield* failure(path.join(dir, "zeros"))).message, "every file is empty")

      write(dir, "loop/x", bytes("x", 10))
      fs.symlinkSync(path.join(dir, "loop"), path.join(dir, "loop", "again"))
      assert.include((yield* failure(path.join(dir, "loop"))).message, "symlink loop")

      write(dir, "broken/x", bytes("x", 10))
      fs.symlinkSync(path.join(dir, "missing-target"), path.join(dir, "broken", "y"))
      const broken = yield* failure(path.join(dir, "broken"))
      assert.include(broken.message, "broken symbolic link")
      assert.include(broken.message, path.join(dir, "broken", "y"))

      write(dir, "ok.bin", bytes("ok", 10))
      const ok = path.join(dir, "ok.bin")
      assert.include((yield* failure(ok, { pieceLength: 1000 })).message, "invalid piece length")
      assert.include((yield* failure(ok, { pieceLength: 8192 })).message, "invalid piece length")
      assert.include((yield* failure(ok, { trackers: [["not a url"]] })).message, "invalid tracker URL")
      assert.include((yield* failure(ok, { webSeeds: ["::"] })).message, "invalid web seed URL")
    }))

  it.live("a FIFO is refused rather than read", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      write(dir, "d/a", bytes("a", 10))
      execFileSync("mkfifo", [path.join(dir, "d", "pipe")])
      const e = yield* Effect.flip(create(path.join(dir, "d")))
      assert.include(e.message, "not a regular file or directory (FIFO)")
    }))

  it("VERSION matches package.json, and the peer-id prefix says the same version", () => {
    const pkg: unknown = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "..", "package.json"), "utf8"))
    const version = (pkg as { version: string }).version
    assert.strictEqual(VERSION, version)
    const [major, minor, patch] = version.split(".")
    assert.strictEqual(PEER_ID_PREFIX, `-ET${major}${minor}${patch}0-`)
  })
})

describe("create helpers", () => {
  it("choosePieceLength: power of two in [16 KiB, 16 MiB], 1000-2000 pieces when the size allows", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 50 }), (total) => {
        const p = choosePieceLength(total)
        const pieces = Math.ceil(total / p)
        assert.strictEqual(p & (p - 1), 0)
        assert.isAtLeast(p, 16384)
        assert.isAtMost(p, 16 * 1024 * 1024)
        if (p < 16 * 1024 * 1024) assert.isAtMost(pieces, 2000)
        if (p > 16384) assert.isAbove(pieces, 1000)
      })
    )
    assert.strictEqual(choosePieceLength(10 * 1024 ** 3), 8 * 1024 * 1024)
    assert.strictEqual(choosePieceLength(1), 16384)
  })

  it("PieceHasher: any chunking gives the hashes of the whole", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 5000 }),
        fc.array(fc.integer({ min: 0, max: 700 }), { maxLength: 20 }),
        fc.constantFrom(16384, 32768),
        (data, cuts, pieceLength) => {
          // repeated 10 times so the input spans several pieces
          const hasher = new PieceHasher(pieceLength, data.length * 10)
          const whole = Buffer.concat(Array.from({ length: 10 }, () => data))
          let offset = 0
          for (const cut of cuts) {
            const end = Math.min(whole.length, offset + cut * 10)
            hasher.update(whole.subarray(offset, end))
            offset = end
          }
          hasher.update(whole.subarray(offset))
          assert.strictEqual(hex(hasher.finish()), hex(expectedPieces(whole, pieceLength)))
        }
      ),
      { numRuns: 50 }
    )
  })

  it("comparePaths: component-wise UTF-8 byte order", () => {
    const sorted = [["a-b"], ["a", "z"], ["\u{1F600}"], ["\uFFFD"]].sort(comparePaths)
    assert.deepStrictEqual(sorted, [["a", "z"], ["a-b"], ["\uFFFD"], ["\u{1F600}"]])
  })
})
