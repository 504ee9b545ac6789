/**
 * `createTorrent` with format "v2" and "hybrid" (BEP 52): our parser reads back what create
 * writes (v2 info-hash, pieces roots, piece layers that verify), a hybrid's v1 pieces and v2
 * trees describe the same data, and the streaming merkle hasher equals the whole-file one.
 * libtorrent's view of the same files is in test/interop/create-v2.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect } from "effect"
import * as fc from "fast-check"
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { decode, getDict, isDict } from "../src/bencode/index.ts"
import { sha1, sha256, toHex } from "../src/bytes.ts"
import { createTorrent, type CreateOptions } from "../src/metainfo/create.ts"
import { parseMetainfoResult } from "../src/metainfo/parse.ts"
import { BLOCK_SIZE, FileMerkleHasher, fileMerkleRoot, filePieceLayer } from "../src/metainfo/merkle.ts"
import type { Metainfo } from "../src/metainfo/model.ts"

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

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "et-create-v2-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const create = (p: string, options: CreateOptions) => createTorrent(p, options).pipe(Effect.provide(NodeFileSystem.layer))

const PIECE = 32 * 1024
/** Files ending mid-piece, on a boundary, in one block, empty, and larger than a piece. */
const ALBUM: Record<string, number> = {
  "a.bin": 3 * PIECE + 5000,
  "b/exact.bin": 2 * PIECE,
  "b/small.txt": 700,
  "empty.dat": 0,
  "z.bin": PIECE + 1
}

const writeAlbum = (root: string): Map<string, Uint8Array> => {
  const data = new Map<string, Uint8Array>()
  for (const [rel, n] of Object.entries(ALBUM)) {
    const d = bytes(rel, n)
    fs.mkdirSync(path.dirname(path.join(root, "album", rel)), { recursive: true })
    fs.writeFileSync(path.join(root, "album", rel), d)
    data.set(`album/${rel}`, d)
  }
  return data
}

/** Every real file's pieces root and piece layer, recomputed from its bytes the whole-file way. */
const assertMerkle = (meta: Metainfo, data: ReadonlyMap<string, Uint8Array>) => {
  const real = meta.files.filter((f) => !f.padding)
  assert.strictEqual(real.length, data.size)
  for (const f of real) {
    const d = data.get(f.path.join("/"))
    assert.isDefined(d, f.path.join("/"))
    if (d === undefined) continue
    assert.strictEqual(f.length, d.length)
    // every file starts on a piece boundary (BEP 52)
    if (f.length > 0) assert.strictEqual(f.offset % meta.pieceLength, 0, f.path.join("/"))
    if (d.length === 0) {
      assert.isNull(f.piecesRoot)
      continue
    }
    const root = fileMerkleRoot(d, meta.pieceLength)
    assert.strictEqual(toHex(f.piecesRoot ?? new Uint8Array(0)), toHex(root), f.path.join("/"))
    const layer = meta.pieceLayers.get(toHex(root))
    if (d.length > meta.pieceLength) {
      assert.strictEqual(toHex(layer ?? new Uint8Array(0)), toHex(filePieceLayer(d, meta.pieceLength)))
    } else {
      assert.isUndefined(layer, "no layer for a file of one piece")
    }
  }
}

describe("createTorrent v2 and hybrid (BEP 52)", () => {
  it.live("--v2: the parser reads back a v2-only torrent whose roots and piece layers match the data", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = writeAlbum(dir)
      const created = yield* create(path.join(dir, "album"), { format: "v2", pieceLength: PIECE })
      const meta = created.metainfo
      assert.strictEqual(meta.version, "v2")
      assert.isNull(meta.infoHash)
      assert.strictEqual(toHex(meta.infoHashV2 ?? new Uint8Array(0)), toHex(sha256(meta.infoBytes)))
      const top = decode(created.torrent)
      assert.isTrue(top._tag === "Success" && isDict(top.success))
      if (top._tag !== "Success" || !isDict(top.success)) return
      const info = getDict(top.success, "info")
      assert.isDefined(info)
      assert.isUndefined(info?.["pieces"], "no v1 pieces")
      assert.isUndefined(info?.["files"], "no v1 file list")
      assert.strictEqual(info?.["meta version"], 2)
      // three files are larger than a piece: a.bin, b/exact.bin, z.bin
      assert.strictEqual(meta.pieceLayers.size, 3)
      assertMerkle(meta, data)
      assert.strictEqual(meta.pieceCount, 4 + 2 + 1 + 2)
    }))

  it.live("--hybrid: v1 pieces and v2 trees describe the same padded data", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const data = writeAlbum(dir)
      const created = yield* create(path.join(dir, "album"), { format: "hybrid", pieceLength: PIECE })
      const meta = created.metainfo
      assert.strictEqual(meta.version, "hybrid")
      assert.strictEqual(toHex(meta.infoHash ?? new Uint8Array(0)), toHex(sha1(meta.infoBytes)))
      assert.strictEqual(toHex(meta.infoHashV2 ?? new Uint8Array(0)), toHex(sha256(meta.infoBytes)))
      assertMerkle(meta, data)
      // v1: the padded stream (zeros in the padding files, the last file padded too) hashes to `pieces`
      const stream = new Uint8Array(meta.totalSize)
      for (const f of meta.files) if (!f.padding) stream.set(data.get(f.path.join("/")) ?? new Uint8Array(0), f.offset)
      assert.strictEqual(meta.totalSize % PIECE, 0)
      assert.strictEqual(meta.pieceCount, meta.totalSize / PIECE)
      for (let i = 0; i < meta.pieceCount; i++) {
        assert.strictEqual(
          toHex(sha1(stream.subarray(i * PIECE, (i + 1) * PIECE))),
          toHex(meta.pieces.subarray(20 * i, 20 * i + 20)),
          `v1 piece ${i}`
        )
      }
      assert.isTrue(meta.files.some((f) => f.padding && f.path.includes(".pad")), "BEP 47 padding files")
    }))

  it.live("a single file: v2 tree keyed by the name; a hybrid of one file needs no padding", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const d = bytes("one", 2 * PIECE + 10)
      fs.writeFileSync(path.join(dir, "one.iso"), d)
      for (const format of ["v2", "hybrid"] as const) {
        const { metainfo: meta } = yield* create(path.join(dir, "one.iso"), { format, pieceLength: PIECE })
        assert.strictEqual(meta.version, format)
        assert.isFalse(meta.multiFile)
        assertMerkle(meta, new Map([["one.iso", d]]))
        if (format === "hybrid") {
          assert.strictEqual(meta.files.length, 1)
          assert.strictEqual(meta.pieces.length, 20 * 3)
        }
      }
    }))

  it.live("a piece layer that is tampered with no longer parses: the layers really are checked", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeAlbum(dir)
      const created = yield* create(path.join(dir, "album"), { format: "v2", pieceLength: PIECE })
      const [root, layer] = [...created.metainfo.pieceLayers][0] ?? ["", new Uint8Array(0)]
      const at = Buffer.from(created.torrent).indexOf(Buffer.from(layer))
      assert.isAbove(at, 0, `layer of ${root} found in the file`)
      const bad = created.torrent.slice()
      bad[at + 5] = (bad[at + 5] ?? 0) ^ 1
      const parsed = parseMetainfoResult(bad)
      assert.isTrue(parsed._tag === "Failure")
      if (parsed._tag === "Failure") assert.include(parsed.failure.message, "does not hash to its pieces root")
    }))

  it.live("the same input gives the same bytes, and v1 stays the default", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeAlbum(dir)
      const a = yield* create(path.join(dir, "album"), { format: "hybrid" })
      const b = yield* create(path.join(dir, "album"), { format: "hybrid" })
      assert.strictEqual(toHex(a.torrent), toHex(b.torrent))
      const v1 = yield* create(path.join(dir, "album"), {})
      assert.strictEqual(v1.metainfo.version, "v1")
    }))
})

const BIN = path.join(import.meta.dirname, "..", "src", "cli", "bin.ts")

const cli = (args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : child.exitCode, stdout, stderr }))
    })
  })

describe("effect-torrent create --v2 / --hybrid", () => {
  it.live("prints the v2 info-hash (and the v1 one only when there is one); the two flags exclude each other", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      writeAlbum(dir)
      const v2Path = path.join(dir, "v2.torrent")
      const v2 = yield* cli(["create", path.join(dir, "album"), "-o", v2Path, "--v2"])
      assert.strictEqual(v2.code, 0, v2.stderr)
      assert.match(v2.stdout, /^info hash v2: [0-9a-f]{64}$/m)
      assert.notMatch(v2.stdout, /^info hash: /m)
      assert.include(v2.stdout, "xt=urn:btmh:1220")
      const both = yield* cli(["create", path.join(dir, "album"), "-o", path.join(dir, "x.torrent"), "--v2", "--hybrid"])
      assert.strictEqual(both.code, 1)
      assert.include(both.stderr, "--v2 and --hybrid exclude each other")
      assert.isFalse(fs.existsSync(path.join(dir, "x.torrent")))
    }))
})

describe("FileMerkleHasher", () => {
  it("any chunking gives the whole file's pieces root and piece layer", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 * BLOCK_SIZE + 100 }),
        fc.constantFrom(BLOCK_SIZE, 2 * BLOCK_SIZE, 4 * BLOCK_SIZE),
        fc.array(fc.integer({ min: 1, max: 3 * BLOCK_SIZE }), { minLength: 1, maxLength: 8 }),
        (length, pieceLength, cuts) => {
          const data = bytes(`m${length}`, length)
          const h = new FileMerkleHasher(pieceLength)
          let at = 0
          for (let i = 0; at < length; i++) {
            const n = cuts[i % cuts.length] ?? 1
            h.update(data.subarray(at, at + n))
            at += n
          }
          const { layer, root } = h.finish()
          if (length === 0) return root === null && layer === null
          const wantLayer = length > pieceLength ? toHex(filePieceLayer(data, pieceLength)) : null
          return toHex(root ?? new Uint8Array(0)) === toHex(fileMerkleRoot(data, pieceLength)) &&
            (layer === null ? null : toHex(layer)) === wantLayer
        }
      ),
      { numRuns: 60 }
    )
  })
})
