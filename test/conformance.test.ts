/**
 * Conformance: every file under fixtures/conformance is parsed and checked
 * against the corpus expectations (see fixtures/conformance/README.md).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative } from "node:path"
import { decode, getBytes, getInt, isDict } from "../src/bencode/index.ts"
import { type Metainfo, type MetainfoErrorReason, parseMetainfoResult } from "../src/metainfo/index.ts"
import { toHex as hex } from "../src/bytes.ts"

const ROOT = "fixtures/conformance"

interface Expectation {
  readonly file: string
  readonly valid: boolean
  readonly basis?: string
  readonly error?: string
  readonly v1?: boolean | null
  readonly v2?: boolean | null
  readonly info_hash_v1?: string
  readonly info_hash_v2?: string
  readonly piece_length?: number
  readonly total_size?: number
  readonly num_pieces?: number
  readonly name?: string
  readonly num_files?: number
  readonly files?: Record<string, string> | ReadonlyArray<string>
  readonly renamed_files?: Record<string, string>
  readonly file_lengths?: ReadonlyArray<number>
  readonly file_sizes?: Record<string, number>
  readonly pieces_roots?: Record<string, string>
  readonly symlinks?: Record<string, string>
  readonly pad_files?: ReadonlyArray<number>
  readonly non_pad_files?: ReadonlyArray<number>
  readonly trackers?: ReadonlyArray<string>
  readonly trackers_deduplicated?: ReadonlyArray<string>
  readonly web_seeds?: ReadonlyArray<string>
  readonly web_seed_count?: number
  readonly creation_date?: number | null
  readonly creation_date_raw?: number
  readonly private?: boolean
  readonly piece_layers_loaded?: boolean
  readonly content?: string
  readonly content_verifies?: boolean
}

/**
 * Where we deliberately differ from libtorrent. Only non-`spec` bases may appear
 * here (checked below), and every entry must still differ (so the table cannot go stale).
 */
const DEVIATIONS: Record<string, { readonly valid?: boolean; readonly fields?: ReadonlyArray<string>; readonly reason: string }> = {
  "libtorrent/duplicate_files2.torrent": {
    valid: true,
    reason: "libtorrent-limit: its rename budget guards a quadratic probe; ours keeps a per-name counter " +
      "(linear), so 118 identical names are renamed foo/bar.1.txt..bar.117.txt (MAX_RENAME_PROBES still caps it)"
  },
  "libtorrent/pad_file_no_path.torrent": {
    fields: ["files"],
    reason: "libtorrent-lenient: a path-less pad file gets the synthetic path .pad/<len> under the torrent " +
      "name (model invariant: multi-file paths start with the name); pad files are never written anyway"
  }
}

/**
 * The reason an invalid torrent must be rejected with, for each category of the corpus
 * (`error` in expectations.json). Written from the category's meaning, not from what the
 * parser happens to say. Where the corpus names two faults, either reason is right.
 */
const REASONS: Record<string, ReadonlyArray<MetainfoErrorReason>> = {
  "all-zero pieces root": ["InvalidPiecesRoot"],
  "empty file list": ["NoFiles"],
  "empty file name in file tree": ["InvalidFileTree"],
  "file entry without path": ["InvalidPath"],
  "file length has wrong type (list)": ["InvalidLength"],
  "file too large": ["LimitExceeded"],
  "hybrid v1 pad files do not align files": ["HybridMismatch"],
  "hybrid v1/v2 file lists disagree": ["HybridMismatch"],
  "info is not a dictionary": ["InvalidInfo"],
  "malformed file tree (leaf without '' key)": ["InvalidFileTree"],
  "missing name": ["InvalidName"],
  "missing piece length": ["InvalidPieceLength"],
  "name empty after sanitising (NUL bytes only)": ["InvalidName"],
  "name has wrong type (integer)": ["InvalidName"],
  "negative file length": ["InvalidLength"],
  // the decoder's depth cap, before any torrent rule applies
  "nesting too deep": ["InvalidBencode", "LimitExceeded"],
  // a leading zero is malformed bencode for every torrent, not just non-canonical
  "non-canonical bencoding (leading zero)": ["InvalidBencode", "NonCanonical"],
  "non-canonical bencoding (unsorted keys)": ["NonCanonical"],
  "non-empty v2 file without pieces root": ["InvalidPiecesRoot"],
  "pad attribute in v2 file tree": ["InvalidFileTree"],
  "path element is not a string": ["InvalidPath"],
  "piece layer does not hash to pieces root": ["InvalidPieceLayer"],
  "piece layer for unknown root": ["InvalidPieceLayer"],
  "piece layer has wrong number of hashes": ["InvalidPieceLayer"],
  "piece layer key is not a 32-byte root": ["InvalidPieceLayer"],
  "piece layer length not a multiple of 32": ["InvalidPieceLayer"],
  "piece layer value has wrong type": ["InvalidPieceLayer"],
  "piece length has wrong type (string)": ["InvalidPieceLength"],
  "piece length not positive": ["InvalidPieceLength"],
  "pieces has wrong type": ["InvalidPieces"],
  "pieces length not a multiple of 20 / wrong hash count": ["InvalidPieces", "PieceCountMismatch"],
  "too many duplicate file names": ["LimitExceeded", "PathConflict"],
  "too many pieces (also: hash count does not match length)": ["LimitExceeded", "InvalidPieces", "PieceCountMismatch"],
  "too many pieces / total size too large": ["LimitExceeded"],
  "top level is not a dictionary": ["NotADict"],
  "total size is zero": ["EmptyTorrent"],
  "v2 piece length not a power of two (or < 16 KiB)": ["InvalidPieceLength"],
  "v2 piece length not a power of two / too large": ["InvalidPieceLength", "LimitExceeded"]
}

/** Files invalid in a second way the corpus does not name, which our decoder finds first. */
const OTHER_FAULT: Record<string, { readonly reason: MetainfoErrorReason; readonly message: RegExp }> = {
  // its file list also repeats the key "path": a bencode error, before the name is looked at
  "libtorrent/bad_name.torrent": { reason: "InvalidBencode", message: /duplicate dict key "path"/ }
}

/**
 * `creation date` in seconds, for every file whose corpus entry gives the raw value. Some
 * creators (WebTorrent) wrote milliseconds; the date each file was really made is stated
 * here by hand, so the test does not repeat the parser's own rule for telling them apart.
 */
const CREATION_DATES: Record<string, { readonly seconds: number; readonly iso: string }> = {
  "webtorrent-fixtures/alice.torrent": { seconds: 1452468725, iso: "2016-01-10T23:32:05Z" },
  "webtorrent-fixtures/bunny.torrent": { seconds: 1387309701, iso: "2013-12-17T19:48:21Z" },
  "webtorrent-fixtures/folder.torrent": { seconds: 1449730049, iso: "2015-12-10T06:47:29Z" },
  "webtorrent-fixtures/leaves.torrent": { seconds: 1375363666, iso: "2013-08-01T13:27:46Z" },
  "webtorrent-fixtures/lots-of-numbers.torrent": { seconds: 1458348895, iso: "2016-03-19T00:54:55Z" },
  "webtorrent-fixtures/numbers.torrent": { seconds: 1449730287, iso: "2015-12-10T06:51:27Z" },
  "webtorrent-fixtures/sintel.torrent": { seconds: 1304585353, iso: "2011-05-05T08:49:13Z" },
  "parse-torrent/leaves-duplicate-tracker.torrent": { seconds: 1375363666, iso: "2013-08-01T13:27:46Z" },
  "parse-torrent/leaves-empty-announce-list.torrent": { seconds: 1406613545, iso: "2014-07-29T05:59:05Z" },
  "parse-torrent/leaves-empty-url-list.torrent": { seconds: 1406613545, iso: "2014-07-29T05:59:05Z" },
  "parse-torrent/leaves-url-list.torrent": { seconds: 1406613545, iso: "2014-07-29T05:59:05Z" },
  "node-bencode/ubuntu-12.04-server-amd64.torrent": { seconds: 1335433839, iso: "2012-04-26T09:50:39Z" }
}

// Hashes computed here, independently of the code under test.
const digest = (algorithm: "sha1" | "sha256", bytes: Uint8Array): string => createHash(algorithm).update(bytes).digest("hex")

const walk = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })

const load = (dir: string): ReadonlyArray<Expectation> =>
  JSON.parse(readFileSync(join(ROOT, dir, "expectations.json"), "utf8")) as ReadonlyArray<Expectation>

const suites = ["libtorrent", "webtorrent-fixtures", "parse-torrent", "node-bencode"] as const
const expectations = new Map<string, Expectation>()
for (const s of suites) for (const e of load(s)) expectations.set(`${s}/${e.file}`, e)

const indexed = <A>(v: Record<string, A> | ReadonlyArray<A>): ReadonlyArray<[number, A]> =>
  Array.isArray(v) ? v.map((x, i) => [i, x] as [number, A]) : Object.entries(v).map(([k, x]) => [Number(k), x] as [number, A])

const rel = (m: Metainfo, p: ReadonlyArray<string>) => (m.multiFile ? p.slice(1) : p).join("/")

/** Field-by-field comparison; returns the names of fields that differ. */
const compare = (m: Metainfo, e: Expectation, file: string): ReadonlyArray<string> => {
  const suite = file.split("/")[0] ?? ""
  const diff: Array<string> = []
  const check = (field: string, ok: boolean) => {
    if (!ok) diff.push(field)
  }
  if (e.info_hash_v1 !== undefined) check("info_hash_v1", m.infoHash !== null && hex(m.infoHash) === e.info_hash_v1)
  if (e.info_hash_v2 !== undefined) check("info_hash_v2", m.infoHashV2 !== null && hex(m.infoHashV2) === e.info_hash_v2)
  if (e.v1 === false) check("v1", m.infoHash === null && m.version === "v2")
  if (e.v2 === false) check("v2", m.infoHashV2 === null && m.version === "v1")
  if (e.v1 === true && e.v2 === true) check("version", m.version === "hybrid")
  if (e.piece_length !== undefined) check("piece_length", m.pieceLength === e.piece_length)
  // a pure v2 torrent's padding is implicit in the file (the corpus counts real bytes) but
  // explicit in the model, which aligns files to pieces like a hybrid does
  const realSize = m.version === "v2" ? m.files.reduce((n, f) => (f.padding ? n : n + f.length), 0) : m.totalSize
  if (e.total_size !== undefined) check("total_size", realSize === e.total_size)
  if (e.num_pieces !== undefined) check("num_pieces", m.pieceCount === e.num_pieces)
  if (e.name !== undefined) check("name", m.name === e.name)
  // libtorrent's count includes pad entries it synthesises between v2 files: comparable for v1/hybrid only
  if (e.num_files !== undefined && m.version !== "v2") check("num_files", m.files.length === e.num_files)
  if (e.files !== undefined) {
    const ok = indexed(e.files).every(([i, p]) => {
      const f = m.files[i]
      if (f === undefined) return false
      const want = e.renamed_files?.[String(i)] ?? p
      // libtorrent-style paths are "name/..."; webtorrent's are relative to the name
      return suite === "libtorrent" ? f.path.join("/") === want : rel(m, f.path) === want
    })
    check("files", ok)
  }
  if (e.file_lengths !== undefined) check("file_lengths", indexed(e.file_lengths).every(([i, n]) => m.files[i]?.length === n))
  if (e.file_sizes !== undefined) check("file_sizes", indexed(e.file_sizes).every(([i, n]) => m.files[i]?.length === n))
  if (e.pieces_roots !== undefined) {
    check("pieces_roots", indexed(e.pieces_roots).every(([i, h]) => {
      const r = m.files[i]?.piecesRoot
      return r !== undefined && r !== null && hex(r) === h
    }))
  }
  if (e.symlinks !== undefined) {
    check("symlinks", indexed(e.symlinks).every(([i, t]) => m.files[i]?.symlinkPath?.join("/") === t))
  }
  if (e.pad_files !== undefined) check("pad_files", e.pad_files.every((i) => m.files[i]?.padding === true))
  if (e.non_pad_files !== undefined) check("non_pad_files", e.non_pad_files.every((i) => m.files[i]?.padding === false))
  const flat = m.trackers.flat()
  if (e.trackers !== undefined) check("trackers", JSON.stringify(flat) === JSON.stringify(e.trackers))
  if (e.trackers_deduplicated !== undefined) {
    check("trackers_deduplicated", JSON.stringify(flat) === JSON.stringify(e.trackers_deduplicated))
  }
  if (e.web_seeds !== undefined) check("web_seeds", JSON.stringify(m.webSeeds) === JSON.stringify(e.web_seeds))
  if (e.web_seed_count !== undefined) check("web_seed_count", m.webSeeds.length === e.web_seed_count)
  if (e.creation_date !== undefined) check("creation_date", m.creationDate === e.creation_date)
  if (e.creation_date_raw !== undefined) check("creation_date_raw", m.creationDate === CREATION_DATES[file]?.seconds)
  if (e.private !== undefined) check("private", m.private === e.private)
  if (e.piece_layers_loaded === true) {
    check("piece_layers_loaded", m.files.every((f) => f.piecesRoot === null || f.length <= m.pieceLength || m.pieceLayers.has(hex(f.piecesRoot))))
  }
  // Model invariants, for every parsed torrent
  let offset = 0
  for (const f of m.files) {
    check("offsets", f.offset === offset)
    offset += f.length
    check("sanitised path", f.path.every((c) => c !== "" && c !== "." && c !== ".." && !/[/\\\u0000]/.test(c)))
  }
  check("totalSize invariant", offset === m.totalSize)
  if (m.version !== "v2") {
    check("pieceCount invariant", m.pieceCount === Math.ceil(m.totalSize / m.pieceLength))
    check("pieces invariant", m.pieces.length === 20 * m.pieceCount)
  }
  // Each info-hash is taken over the info dict's bytes as found in the file, and each
  // version has exactly the hashes it should (v1: SHA-1 only, v2: SHA-256 only, hybrid: both).
  check("v1 info-hash", m.infoHash === null ? m.version === "v2" : hex(m.infoHash) === digest("sha1", m.infoBytes))
  check("v2 info-hash", m.infoHashV2 === null ? m.version === "v1" : hex(m.infoHashV2) === digest("sha256", m.infoBytes))
  return diff
}

const torrentFiles = walk(ROOT).filter((p) => p.endsWith(".torrent")).map((p) => relative(ROOT, p)).sort()

describe("conformance corpus", () => {
  it("has an expectation for every .torrent file", () => {
    assert.isAbove(torrentFiles.length, 120)
    for (const f of torrentFiles) assert.isTrue(expectations.has(f), `no expectation for ${f}`)
  })

  it("states the creation date of every file that has one, consistent with the raw value", () => {
    const raw = [...expectations].filter(([, e]) => e.creation_date_raw !== undefined).map(([f]) => f).sort()
    assert.deepStrictEqual(Object.keys(CREATION_DATES).sort(), raw)
    for (const [file, d] of Object.entries(CREATION_DATES)) {
      assert.strictEqual(new Date(d.seconds * 1000).toISOString().replace(".000", ""), d.iso, file)
      const r = expectations.get(file)?.creation_date_raw ?? -1
      assert.isTrue(r === d.seconds || Math.floor(r / 1000) === d.seconds, `${file}: raw ${r} is neither these seconds nor milliseconds within them`)
    }
  })

  it("lists deviations only for non-spec verdicts", () => {
    for (const key of Object.keys(DEVIATIONS)) {
      const e = expectations.get(key)
      assert.isDefined(e, key)
      assert.notStrictEqual(e?.basis, "spec", `${key} is basis spec: deviations are not allowed`)
    }
  })

  for (const file of torrentFiles) {
    it(file, () => {
      const e = expectations.get(file)
      if (e === undefined) return assert.fail(`no expectation for ${file}`)
      const r = parseMetainfoResult(new Uint8Array(readFileSync(join(ROOT, file))))
      const deviation = DEVIATIONS[file]
      const wantValid = deviation?.valid ?? e.valid
      if (!wantValid) {
        if (Result.isSuccess(r)) return assert.fail(`${file} should be rejected (${e.error ?? ""})`)
        assert.strictEqual(r.failure._tag, "MetainfoError")
        assert.notInclude(r.failure.message, "\n", "the message is one line")
        const other = OTHER_FAULT[file]
        if (other !== undefined) {
          assert.strictEqual(r.failure.reason, other.reason, r.failure.message)
          assert.match(r.failure.message, other.message)
          return
        }
        const allowed = REASONS[e.error ?? ""]
        if (allowed === undefined) return assert.fail(`${file}: no reason listed for the corpus category "${e.error ?? ""}"`)
        assert.include(allowed, r.failure.reason, `${file} (${e.error ?? ""}) rejected as ${r.failure.reason}: ${r.failure.message}`)
        return
      }
      if (Result.isFailure(r)) return assert.fail(`${file} rejected: ${r.failure.message}`)
      const diff = compare(r.success, e, file)
      assert.deepStrictEqual(diff, [...(deviation?.fields ?? [])], `${file}: fields differ`)
      if (deviation !== undefined && deviation.valid !== undefined) assert.notStrictEqual(deviation.valid, e.valid)
    })
  }

  describe("webtorrent payloads verify against the parsed piece hashes", () => {
    for (const e of load("webtorrent-fixtures").filter((x) => x.content_verifies === true)) {
      it(e.file, () => {
        const dir = join(ROOT, "webtorrent-fixtures")
        const r = parseMetainfoResult(new Uint8Array(readFileSync(join(dir, e.file))))
        if (Result.isFailure(r)) return assert.fail(r.failure.message)
        const m = r.success
        const payload = new Uint8Array(m.totalSize)
        for (const f of m.files) payload.set(new Uint8Array(readFileSync(join(dir, ...f.path))), f.offset)
        for (let i = 0; i < m.pieceCount; i++) {
          const piece = payload.subarray(i * m.pieceLength, (i + 1) * m.pieceLength)
          assert.strictEqual(digest("sha1", piece), hex(m.pieces.subarray(20 * i, 20 * i + 20)), `piece ${i}`)
        }
        // and a flipped byte is caught
        payload[0] = (payload[0] ?? 0) ^ 1
        assert.notStrictEqual(digest("sha1", payload.subarray(0, m.pieceLength)), hex(m.pieces.subarray(0, 20)))
      })
    }
  })

  it("node-bencode tracker response decodes to the stated compact peers", () => {
    const e = JSON.parse(readFileSync(join(ROOT, "node-bencode/expectations.json"), "utf8"))[0] as {
      decoded: { complete: number; incomplete: number; interval: number; peers: ReadonlyArray<string> }
    }
    const v = decode(new Uint8Array(readFileSync(join(ROOT, "node-bencode/announce-compacted-peers.bin"))))
    if (Result.isFailure(v) || !isDict(v.success)) return assert.fail("response does not decode to a dict")
    const dict = v.success
    assert.strictEqual(getInt(dict, "complete"), e.decoded.complete)
    assert.strictEqual(getInt(dict, "incomplete"), e.decoded.incomplete)
    assert.strictEqual(getInt(dict, "interval"), e.decoded.interval)
    const peers = getBytes(dict, "peers") ?? new Uint8Array(0)
    const got: Array<string> = []
    for (let i = 0; i + 6 <= peers.length; i += 6) {
      got.push(`${peers.subarray(i, i + 4).join(".")}:${((peers[i + 4] ?? 0) << 8) | (peers[i + 5] ?? 0)}`)
    }
    assert.deepStrictEqual(got, [...e.decoded.peers])
  })
})
