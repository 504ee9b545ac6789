import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { type Encodable, encode, keyFromBytes } from "../src/bencode/index.ts"
import {
  fileMerkleRoot,
  type Metainfo,
  type MetainfoErrorReason,
  parseInfoDict,
  parseMetainfo,
  parseMetainfoResult,
  v2PieceRanges
} from "../src/metainfo/index.ts"
import { toHex } from "../src/bytes.ts"
import { content, multiInfo, piecesOf, singleInfo, torrent, v2Torrent } from "./metainfo-helpers.ts"

const parse = (bytes: Uint8Array): Metainfo => {
  const r = parseMetainfoResult(bytes)
  if (Result.isFailure(r)) throw new Error(`unexpected rejection: ${r.failure.message}`)
  return r.success
}
const rejects = (bytes: Uint8Array, reason: MetainfoErrorReason, fragment?: string) => {
  const r = parseMetainfoResult(bytes)
  assert.isTrue(Result.isFailure(r), `expected ${reason}`)
  if (Result.isFailure(r)) {
    assert.strictEqual(r.failure.reason, reason, r.failure.message)
    assert.notInclude(r.failure.message, "\n")
    if (fragment !== undefined) assert.include(r.failure.message, fragment)
  }
}
const ascii = (s: string) => new TextEncoder().encode(s)

describe("v1 parsing", () => {
  it("single file with all optional keys", () => {
    const info = singleInfo(40000, 16384, { private: 1 })
    const m = parse(torrent(info, {
      "announce-list": [["http://a/1", " http://a/2\t"], [], ["http://a/1", "udp://b/3"], "http://c/4"],
      "url-list": "http://seed/file.bin",
      "creation date": 1_700_000_000,
      comment: "hello",
      "created by": "tests",
      "comment.utf-8": "héllo"
    }))
    assert.strictEqual(m.version, "v1")
    assert.strictEqual(m.name, "file.bin")
    assert.strictEqual(m.pieceCount, 3)
    assert.strictEqual(m.totalSize, 40000)
    assert.isFalse(m.multiFile)
    assert.isTrue(m.private)
    assert.deepStrictEqual(m.files.map((f) => f.path), [["file.bin"]])
    assert.deepStrictEqual(m.trackers, [["http://a/1", "http://a/2"], ["udp://b/3"], ["http://c/4"]])
    assert.deepStrictEqual(m.webSeeds, ["http://seed/file.bin"])
    assert.strictEqual(m.creationDate, 1_700_000_000)
    assert.strictEqual(m.comment, "héllo")
    assert.strictEqual(m.createdBy, "tests")
    assert.strictEqual(m.infoHashV2, null)
    assert.strictEqual(toHex(m.infoHash ?? new Uint8Array()), createHash("sha1").update(encode(info)).digest("hex"))
    assert.deepStrictEqual(m.infoBytes, encode(info))
  })

  it("lone announce, millisecond creation date, missing optional keys", () => {
    const m = parse(torrent(singleInfo(), { "creation date": 1_452_468_725_091 }))
    assert.deepStrictEqual(m.trackers, [["http://tracker.test/announce"]])
    assert.strictEqual(m.creationDate, 1_452_468_725)
    assert.strictEqual(m.comment, null)
    const bare = parse(encode({ info: singleInfo() }))
    assert.deepStrictEqual(bare.trackers, [])
    assert.strictEqual(bare.creationDate, null)
  })

  it("multi-file with BEP 47 padding and offsets; web seeds become directories", () => {
    const m = parse(torrent(
      multiInfo([{ path: ["a.txt"], length: 100 }, { path: [".pad", "16284"], length: 16284, attr: "p" }, {
        path: ["sub", "b.txt"],
        length: 5
      }]),
      { "url-list": ["http://s/dir name", "", 7] }
    ))
    assert.isTrue(m.multiFile)
    assert.deepStrictEqual(m.files.map((f) => [f.path.join("/"), f.offset, f.padding]), [
      ["dir/a.txt", 0, false],
      ["dir/.pad/16284", 100, true],
      ["dir/sub/b.txt", 16384, false]
    ])
    assert.strictEqual(m.files[1]?.attr, "p")
    assert.deepStrictEqual(m.webSeeds, ["http://s/dir%20name/"])
  })

  it("prefers name.utf-8 and path.utf-8", () => {
    const info = {
      ...multiInfo([{ path: ["x"], length: 10 }]),
      "name.utf-8": "naïve",
      files: [{ length: 10, path: ["x"], "path.utf-8": ["ünï"] }]
    }
    const m = parse(torrent(info))
    assert.strictEqual(m.name, "naïve")
    assert.deepStrictEqual(m.files[0]?.path, ["naïve", "ünï"])
  })
})

describe("path sanitising never escapes the download directory", () => {
  const files = (paths: ReadonlyArray<ReadonlyArray<string>>) =>
    parse(torrent(multiInfo(paths.map((path) => ({ path, length: 1 }))))).files.map((f) => f.path.join("/"))

  it("neutralises traversal, separators, NUL and empty components", () => {
    assert.deepStrictEqual(files([["..", "..", "etc", "passwd"]]), ["dir/_/_/etc/passwd"])
    assert.deepStrictEqual(files([["/abs"]]), ["dir/abs"])
    assert.deepStrictEqual(files([["foo/../../bar"]]), ["dir/foo....bar"])
    assert.deepStrictEqual(files([["C:\\win"]]), ["dir/C:win"])
    assert.deepStrictEqual(files([["", "."]]), ["dir/_/_"])
    assert.deepStrictEqual(files([["a\u0000b"]]), ["dir/ab"])
  })

  it("renames colliding files like libtorrent", () => {
    assert.deepStrictEqual(files([["a.txt"], ["a.txt"], ["a.txt"], ["."], [".."]]), [
      "dir/a.txt",
      "dir/a.1.txt",
      "dir/a.2.txt",
      "dir/_",
      "dir/_.1"
    ])
    assert.deepStrictEqual(files([["d", "x"], ["d"]]), ["dir/d/x", "dir/d.1"])
  })

  it("truncates over-long components, keeping the extension", () => {
    const [p] = files([["a".repeat(300) + ".mkv"]])
    const leaf = p?.split("/")[1] ?? ""
    assert.isAtMost(new TextEncoder().encode(leaf).length, 240)
    assert.isTrue(leaf.endsWith(".mkv"))
  })

  it("falls back to the info-hash for an unusable name, replaces invalid UTF-8", () => {
    const m = parse(torrent({ ...singleInfo(), name: ".." }))
    assert.strictEqual(m.name, toHex(m.infoHash ?? new Uint8Array()))
    const bad = parse(torrent({ ...singleInfo(), name: Uint8Array.of(0x66, 0xff, 0x67) }))
    assert.strictEqual(bad.name, "f_g")
  })

  it("rejects a directory that is also an earlier file", () => {
    rejects(torrent(multiInfo([{ path: ["d"], length: 1 }, { path: ["d", "x"], length: 1 }])), "PathConflict")
  })
})

describe("validation errors", () => {
  const base = singleInfo()
  it.each([
    ["InvalidBencode", ascii("d4:infod")],
    ["NotADict", ascii("l4:infoe")],
    ["InvalidInfo", encode({ announce: "x" })],
    ["InvalidInfo", encode({ info: "files" })],
    ["InvalidInfo", torrent({ ...base, files: [{ length: 1, path: ["a"] }] })],
    ["InvalidInfo", torrent({ ...base, length: undefined, files: "nope" })],
    ["InvalidName", torrent({ ...base, name: undefined })],
    ["InvalidName", torrent({ ...base, name: 7 })],
    ["InvalidPieceLength", torrent({ ...base, "piece length": undefined })],
    ["InvalidPieceLength", torrent({ ...base, "piece length": "16384" })],
    ["InvalidPieceLength", torrent({ ...base, "piece length": 0 })],
    ["InvalidPieceLength", torrent({ ...base, "piece length": -16384 })],
    ["InvalidPieceLength", torrent({ ...base, "piece length": 2 ** 30 })],
    ["InvalidPieces", torrent({ ...base, pieces: undefined })],
    ["InvalidPieces", torrent({ ...base, pieces: 5 })],
    ["InvalidPieces", torrent({ ...base, pieces: new Uint8Array(61) })],
    ["PieceCountMismatch", torrent({ ...base, pieces: new Uint8Array(40) })],
    ["PieceCountMismatch", torrent({ ...base, pieces: new Uint8Array(80) })],
    ["InvalidLength", torrent({ ...base, length: -1 })],
    ["InvalidLength", torrent({ ...base, length: "1" })],
    ["InvalidLength", torrent(multiInfo([{ path: ["a"], length: 1 }], 16384, { files: [{ path: ["a"] }] }))],
    ["InvalidLength", torrent(multiInfo([], 16384, { files: [{ path: ["a"], length: 2 ** 53 - 1 }, { path: ["b"], length: 1 }] }))],
    ["InvalidBencode", ascii("d4:infod6:lengthi9007199254740992eee")],
    ["EmptyTorrent", torrent({ ...base, length: 0, pieces: new Uint8Array(0) })],
    ["NoFiles", torrent(multiInfo([]))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1 }] }))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1, path: [] }] }))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1, path: ["a", 5] }] }))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1, path: "a/b" }] }))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1, path: Array(129).fill("a") }] }))],
    ["InvalidPath", torrent(multiInfo([], 16384, { files: [{ length: 1, path: Array(30).fill("x".repeat(200)) }] }))],
    ["LimitExceeded", torrent({ ...base, length: 2 ** 22 * 16384, "piece length": 16384 })],
    ["UnsupportedVersion", torrent({ ...base, "meta version": 3 })]
  ] as const)("%s (case %#)", (reason, bytes) => {
    rejects(bytes, reason)
  })

  it("the Effect API fails with the typed error", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(parseMetainfo(torrent({ ...base, pieces: new Uint8Array(21) })))
      assert.strictEqual(e._tag, "MetainfoError")
      assert.strictEqual(e.reason, "InvalidPieces")
      assert.strictEqual(e.message, "'pieces' is 21 bytes, not a multiple of 20")
    }).pipe(Effect.runSync))

  it("ignores malformed optional keys", () => {
    const m = parse(torrent(base, { "announce-list": "", "url-list": [["x"]], "creation date": "today", comment: 5 }))
    assert.deepStrictEqual(m.trackers, [["http://tracker.test/announce"]])
    assert.deepStrictEqual(m.webSeeds, [])
    assert.strictEqual(m.creationDate, null)
    assert.strictEqual(m.comment, null)
  })
})

const files3 = [
  { path: ["big.bin"], data: content(100_000, 3) },
  { path: ["docs", "readme.txt"], data: content(1000, 4) },
  { path: ["empty"], data: new Uint8Array(0) }
]

describe("BEP 52", () => {
  it("pure v2: SHA-256 info-hash, file tree order, validated piece layers", () => {
    const { info, layers } = v2Torrent(files3, 16384, false)
    const m = parse(torrent(info, { "piece layers": layers }))
    assert.strictEqual(m.version, "v2")
    assert.strictEqual(m.infoHash, null)
    assert.strictEqual(toHex(m.infoHashV2 ?? new Uint8Array()), createHash("sha256").update(encode(info)).digest("hex"))
    // files start on piece boundaries: the padding a hybrid would list is implicit in v2
    // (libtorrent pads the last file as well: every piece is full-sized)
    assert.deepStrictEqual(m.files.map((f) => f.path.join("/")), ["root/big.bin", "root/.pad/14688", "root/docs/readme.txt", "root/.pad/15384", "root/empty"])
    assert.deepStrictEqual(m.files.map((f) => [f.offset, f.padding]), [[0, false], [100_000, true], [7 * 16384, false], [7 * 16384 + 1000, true], [8 * 16384, false]])
    assert.strictEqual(m.pieceCount, 7 + 1)
    assert.strictEqual(m.totalSize, 8 * 16384)
    assert.deepStrictEqual(v2PieceRanges(m).map((r) => [r.firstPiece, r.pieceCount]), [[0, 7], [7, 0], [7, 1], [8, 0], [8, 0]])
    assert.strictEqual(m.pieces.length, 0)
    const big = m.files[0]?.piecesRoot ?? new Uint8Array()
    assert.deepStrictEqual(big, fileMerkleRoot(files3[0]?.data ?? new Uint8Array(), 16384))
    assert.strictEqual(m.pieceLayers.get(toHex(big))?.length, 7 * 32)
    assert.strictEqual(m.files[4]?.piecesRoot, null)
  })

  it("hybrid: both hashes, pad files, roots on the real files", () => {
    const { info, layers } = v2Torrent(files3, 16384, true)
    const m = parse(torrent(info, { "piece layers": layers }))
    assert.strictEqual(m.version, "hybrid")
    assert.isNotNull(m.infoHash)
    assert.isNotNull(m.infoHashV2)
    assert.deepStrictEqual(m.files.map((f) => [f.path.join("/"), f.padding, f.piecesRoot !== null]), [
      ["root/big.bin", false, true],
      ["root/.pad/14688", true, false],
      ["root/docs/readme.txt", false, true],
      ["root/.pad/15384", true, false],
      ["root/empty", false, false]
    ])
    assert.strictEqual(m.pieceCount, Math.ceil(m.totalSize / 16384))
  })

  it("single-file v2 is not multi-file", () => {
    const { info, layers } = v2Torrent([{ path: ["solo.bin"], data: content(50_000, 5) }], 16384, false, "solo.bin")
    const m = parse(torrent(info, { "piece layers": layers }))
    assert.isFalse(m.multiFile)
    assert.deepStrictEqual(m.files[0]?.path, ["solo.bin"])
  })

  it("accepts missing piece layers (fetched from peers later)", () => {
    const { info } = v2Torrent(files3, 16384, false)
    assert.strictEqual(parse(torrent(info)).pieceLayers.size, 0)
  })

  const v2 = v2Torrent(files3, 16384, false)
  const bigRoot = fileMerkleRoot(files3[0]?.data ?? new Uint8Array(), 16384)
  const layer = (v2.layers[keyFromBytes(bigRoot)] ?? new Uint8Array()) as Uint8Array
  const withTree = (tree: Encodable, extra: Record<string, Encodable> = {}) => torrent({ ...v2.info, "file tree": tree, ...extra })

  it.each([
    ["InvalidPieceLength", () => torrent({ ...v2.info, "piece length": 16384 * 3 })],
    ["InvalidPieceLength", () => torrent({ ...v2.info, "piece length": 8192 })],
    ["InvalidFileTree", () => torrent({ ...v2.info, "file tree": undefined })],
    ["InvalidFileTree", () => withTree({ "": { length: 1 } })],
    ["InvalidFileTree", () => withTree({ a: { "": { length: 0 }, b: { "": { length: 0 } } } })],
    ["InvalidFileTree", () => withTree({ a: { length: 5 } })],
    ["InvalidFileTree", () => withTree({ a: { "": { length: 5, attr: "p", "pieces root": bigRoot } } })],
    ["InvalidPiecesRoot", () => withTree({ a: { "": { length: 5 } } })],
    ["InvalidPiecesRoot", () => withTree({ a: { "": { length: 5, "pieces root": new Uint8Array(31) } } })],
    ["InvalidPiecesRoot", () => withTree({ a: { "": { length: 5, "pieces root": new Uint8Array(32) } } })],
    ["NoFiles", () => withTree({})],
    ["LimitExceeded", () => withTree({ a: { "": { length: 2 ** 22 * 16384, "pieces root": bigRoot } } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": 5 })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(bigRoot)]: layer.subarray(32) } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(bigRoot)]: layer.subarray(1) } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(bigRoot)]: layer.map((b, i) => (i === 40 ? b ^ 1 : b)) } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(new Uint8Array(32).fill(9))]: layer } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(new Uint8Array(33))]: layer } })],
    ["InvalidPieceLayer", () => torrent(v2.info, { "piece layers": { [keyFromBytes(bigRoot)]: 512 } })]
  ] as const)("rejects %s (case %#)", (reason, make) => {
    rejects(make(), reason)
  })

  it("rejects unsorted keys in a v2 info dict but accepts them in v1", () => {
    const info = encode(v2.info)
    const text = new TextDecoder("latin1").decode(info)
    // swap "4:name" and "12:piece length" entries by hand: d 9:file tree.. 12:meta version.. 4:name.. 12:piece length..
    const unsorted = text.replace("4:name4:root12:piece lengthi16384e", "12:piece lengthi16384e4:name4:root")
    assert.notStrictEqual(unsorted, text)
    const bytes = Uint8Array.from(unsorted, (c) => c.charCodeAt(0))
    const file = new Uint8Array([...ascii("d4:info"), ...bytes, ...ascii("e")])
    rejects(file, "NonCanonical")
    const v1 = new TextDecoder("latin1").decode(encode(singleInfo()))
    const v1Unsorted = v1.replace(/^d(6:lengthi\d+e)(4:name8:file\.bin)/, "d$2$1")
    assert.notStrictEqual(v1Unsorted, v1)
    const v1File = new Uint8Array([...ascii("d4:info"), ...Uint8Array.from(v1Unsorted, (c) => c.charCodeAt(0)), ...ascii("e")])
    const m = parse(v1File)
    assert.notDeepEqual(m.infoBytes, encode(singleInfo())) // hashed as found, not re-encoded
  })

  it("rejects hybrids whose v1 and v2 views disagree", () => {
    const h = v2Torrent(files3, 16384, true)
    const list = h.info["files"] as ReadonlyArray<Record<string, Encodable>>
    const renamed = list.map((f, i) => (i === 0 ? { ...f, path: ["other.bin"] } : f))
    rejects(torrent({ ...h.info, files: renamed }), "HybridMismatch", "differs")
    const noPad = list.filter((_, i) => i !== 1)
    const total = noPad.reduce((n, f) => n + (f["length"] as number), 0)
    rejects(
      torrent({ ...h.info, files: noPad, pieces: piecesOf(new Uint8Array(total), 16384) }),
      "HybridMismatch",
      "aligned"
    )
    rejects(torrent({ ...h.info, files: list.slice(0, 2) }), "HybridMismatch")
  })

  it("caps the file tree depth", () => {
    let tree: Encodable = { "": { length: 1, "pieces root": bigRoot } }
    for (let i = 0; i < 101; i++) tree = { d: tree }
    const r = parseMetainfoResult(withTree(tree))
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "LimitExceeded")
    let deeper: Encodable = 1
    for (let i = 0; i < 200; i++) deeper = { d: deeper }
    rejects(withTree(deeper), "InvalidBencode", "nesting")
  })
})

describe("parseInfoDict (BEP 9)", () => {
  it.effect("gives the same torrent from the raw info dict, with extras", () =>
    Effect.gen(function*() {
      const { info, layers } = v2Torrent(files3, 16384, true)
      const full = parse(torrent(info, { "piece layers": layers }))
      const m = yield* parseInfoDict(full.infoBytes, { trackers: [["udp://t/1"]], webSeeds: ["http://w/"] })
      assert.deepStrictEqual(m.infoHash, full.infoHash)
      assert.deepStrictEqual(m.infoHashV2, full.infoHashV2)
      assert.deepStrictEqual(m.files, full.files)
      assert.deepStrictEqual(m.trackers, [["udp://t/1"]])
      assert.deepStrictEqual(m.webSeeds, ["http://w/"])
      assert.strictEqual(m.pieceLayers.size, 0)
      const trailing = yield* Effect.flip(parseInfoDict(new Uint8Array([...full.infoBytes, 0x65])))
      assert.strictEqual(trailing.reason, "InvalidBencode")
      const notDict = yield* Effect.flip(parseInfoDict(ascii("l4:spame")))
      assert.strictEqual(notDict.reason, "InvalidInfo")
    }))
})

/** Independent merkle reference: all 16 KiB leaves, zero-padded to a power of two. */
const naiveRoot = (data: Uint8Array): string => {
  const h = (...xs: Array<Uint8Array>) => {
    const c = createHash("sha256")
    for (const x of xs) c.update(x)
    return new Uint8Array(c.digest())
  }
  let layer: Array<Uint8Array> = []
  for (let i = 0; i < data.length; i += 16384) layer.push(h(data.subarray(i, i + 16384)))
  let width = 1
  while (width < layer.length) width *= 2
  while (layer.length < width) layer.push(new Uint8Array(32))
  while (layer.length > 1) {
    const next: Array<Uint8Array> = []
    for (let i = 0; i < layer.length; i += 2) next.push(h(layer[i] ?? new Uint8Array(32), layer[i + 1] ?? new Uint8Array(32)))
    layer = next
  }
  return toHex(layer[0] ?? new Uint8Array(32))
}

describe("properties", () => {
  it("merkle roots agree with a naive full-tree construction, for any size and piece length", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300_000 }), fc.constantFrom(16384, 32768, 65536), (size, pl) => {
        const data = content(size, size)
        assert.strictEqual(toHex(fileMerkleRoot(data, pl)), naiveRoot(data))
      }),
      { numRuns: 40 }
    )
  })

  const seeds = [
    torrent(singleInfo()),
    torrent(v2Torrent(files3, 16384, true).info, { "piece layers": v2Torrent(files3, 16384, true).layers }),
    new Uint8Array(readFileSync("fixtures/conformance/libtorrent/sample.torrent"))
  ]

  it("parseMetainfo never throws on mutated torrents", () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (seed, edits) => {
        const bytes = seed.slice()
        for (const [at, b] of edits) bytes[at % bytes.length] = b
        const r = parseMetainfoResult(bytes)
        if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "MetainfoError")
      }),
      { numRuns: 1500 }
    )
  })

  it("parseMetainfo never throws on truncated torrents or random bytes", () => {
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.nat(), (seed, cut) => {
        const r = parseMetainfoResult(seed.subarray(0, cut % seed.length))
        assert.isTrue(Result.isFailure(r))
      }),
      { numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = parseMetainfoResult(bytes)
        if (Result.isFailure(r)) assert.strictEqual(r.failure._tag, "MetainfoError")
      }),
      { numRuns: 1000 }
    )
  })
})
