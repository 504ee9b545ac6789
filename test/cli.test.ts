import { assert, describe, it } from "@effect/vitest"
import { toHex } from "../src/bytes.ts"
import { Cause, Effect } from "effect"
import { CliError } from "effect/cli"
import { execFile, execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CliInputError, failureLine } from "../src/cli/errors.ts"
import { renderProgress } from "../src/cli/progress.ts"
import { parseMagnet, parseMetainfo } from "../src/metainfo/index.ts"

const ROOT = path.join(import.meta.dirname, "..")
const BIN = path.join(ROOT, "src", "cli", "bin.ts")
const FIXTURES = path.join(ROOT, "fixtures", "conformance", "webtorrent-fixtures")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs the real executable (pinned Node 24 = process.execPath under vitest). */
const cli = (args: ReadonlyArray<string>, cwd = ROOT): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd, encoding: "utf8" }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : child.exitCode, stdout, stderr }))
    })
  })

const hex = (b: Uint8Array | null) => (b === null ? null : toHex(b))
/** A fresh temp dir, removed when the test's scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "et-cli-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const VALID_FIXTURES = [
  "alice.torrent",
  "bunny.torrent",
  "folder.torrent",
  "leaves.torrent",
  "leaves-metadata.torrent",
  "lots-of-numbers.torrent",
  "numbers.torrent",
  "sintel.torrent"
]

/** The --json object's expected content, straight from the parser. */
const expectedJson = (file: string) =>
  Effect.gen(function*() {
    const m = yield* parseMetainfo(fs.readFileSync(file))
    return {
      infoHash: hex(m.infoHash),
      infoHashV2: hex(m.infoHashV2),
      name: m.name,
      totalSize: m.totalSize,
      pieceLength: m.pieceLength,
      pieceCount: m.pieceCount,
      files: m.files.filter((f) => !f.padding).map((f) => ({ path: f.path.join("/"), size: f.length })),
      trackers: m.trackers.map((t) => [...t]),
      webSeeds: [...m.webSeeds],
      private: m.private
    }
  })

const pick = (o: Record<string, unknown>, keys: ReadonlyArray<string>) => Object.fromEntries(keys.map((k) => [k, o[k]]))

const assertOneErrorLine = (run: Run, includes: string, label: string) => {
  assert.notStrictEqual(run.code, 0, `${label}: exit code`)
  assert.isNotNull(run.code, `${label}: exited normally`)
  const lines = run.stderr.split("\n").filter((l) => l !== "")
  assert.strictEqual(lines.length, 1, `${label}: one stderr line, got ${JSON.stringify(run.stderr)}`)
  assert.match(lines[0] ?? "", /^error: /, label)
  assert.include(lines[0], includes, label)
  assert.notMatch(run.stderr, /^\s+at\s|\.ts:\d+/m, `${label}: no stack trace`)
  assert.strictEqual(run.stdout, "", `${label}: nothing on stdout`)
}

describe("effect-torrent info", () => {
  it.live("--json on every valid webtorrent fixture agrees with parseMetainfo", () =>
    Effect.gen(function*() {
      const runs = yield* Effect.forEach(
        VALID_FIXTURES,
        (name) => cli(["info", "--json", path.join(FIXTURES, name)]),
        { concurrency: 4 }
      )
      for (const [i, name] of VALID_FIXTURES.entries()) {
        const run = runs[i]
        assert.isDefined(run)
        if (run === undefined) continue
        assert.strictEqual(run.code, 0, `${name}: ${run.stderr}`)
        assert.strictEqual(run.stdout.trim().split("\n").length, 1, `${name}: one JSON line`)
        const json = JSON.parse(run.stdout) as Record<string, unknown>
        const expected = yield* expectedJson(path.join(FIXTURES, name))
        assert.deepStrictEqual(pick(json, Object.keys(expected)), expected, name)
      }
    }), 120_000)

  it.live("human output: name, hash, sizes, pieces, numbered files, trackers, web seeds, private flag", () =>
    Effect.gen(function*() {
      const alice = yield* cli(["info", path.join(FIXTURES, "alice.torrent")])
      assert.strictEqual(alice.code, 0, alice.stderr)
      assert.match(alice.stdout, /name:\s+alice\.txt/)
      assert.match(alice.stdout, /info hash:\s+722fe65b2aa26d14f35b4ad627d20236e481d924/)
      assert.include(alice.stdout, "(163783 bytes)")
      assert.match(alice.stdout, /pieces:\s+10 x 16 KiB/)
      assert.match(alice.stdout, /private:\s+no/)

      const lots = yield* cli(["info", path.join(FIXTURES, "lots-of-numbers.torrent")])
      assert.strictEqual(lots.code, 0, lots.stderr)
      const tree = lots.stdout.split("\n")
      const at = tree.findIndex((l) => l.startsWith("files (6)"))
      assert.isAtLeast(at, 0, lots.stdout)
      // numbered in torrent order, as download --select counts them
      assert.match(tree[at + 1] ?? "", /^  1  lots-of-numbers\/\S.*  \(\d/)
      assert.match(tree[at + 6] ?? "", /^  6  lots-of-numbers\//)

      const bunny = yield* cli(["info", path.join(FIXTURES, "bunny.torrent")])
      assert.match(bunny.stdout, /private:\s+yes/)
      assert.include(bunny.stdout, "http://distribution.bbb3d.renderfarming.net/video/mp4/bbb_sunflower_1080p_30fps_stereo_abl.mp4")
    }), 120_000)

  it.live("magnet: hash, name, trackers, peers; unknown fields null in --json", () =>
    Effect.gen(function*() {
      const uri = "magnet:?xt=urn:btih:722fe65b2aa26d14f35b4ad627d20236e481d924&dn=alice.txt" +
        "&tr=http%3A%2F%2Ftracker.example%2Fannounce&tr=udp%3A%2F%2Fother.example%3A6969&x.pe=127.0.0.1:6881"
      const magnet = yield* parseMagnet(uri)
      const run = yield* cli(["info", "--json", uri])
      assert.strictEqual(run.code, 0, run.stderr)
      const json = JSON.parse(run.stdout) as Record<string, unknown>
      assert.strictEqual(json.infoHash, "722fe65b2aa26d14f35b4ad627d20236e481d924")
      assert.strictEqual(json.infoHash, hex(magnet.infoHash))
      assert.strictEqual(json.infoHashV2, null)
      assert.strictEqual(json.name, "alice.txt")
      assert.deepStrictEqual(json.trackers, magnet.trackers.map((t) => [t]))
      assert.deepStrictEqual(json.peers, ["127.0.0.1:6881"])
      assert.deepStrictEqual(magnet.peers, [{ host: "127.0.0.1", port: 6881 }])
      for (const k of ["totalSize", "pieceLength", "pieceCount", "files", "private"]) assert.strictEqual(json[k], null, k)

      const human = yield* cli(["info", uri])
      assert.strictEqual(human.code, 0, human.stderr)
      assert.include(human.stdout, "722fe65b2aa26d14f35b4ad627d20236e481d924")
      assert.include(human.stdout, "udp://other.example:6969")
    }), 120_000)
})

describe("effect-torrent create", () => {
  it.live("create → info --json round trip; pieces match the data", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const payload = path.join(dir, "My Files")
      fs.mkdirSync(path.join(payload, "sub"), { recursive: true })
      const a = createHash("sha512").update("a").digest()
      const b = Buffer.alloc(40_000, 7)
      fs.writeFileSync(path.join(payload, "sub", "a.bin"), a)
      fs.writeFileSync(path.join(payload, "b.bin"), b)
      const out = path.join(dir, "out.torrent")
      const created = yield* cli([
        "create",
        payload,
        "-o",
        out,
        "--tracker",
        "http://t1.example/announce,http://t1b.example/announce",
        "--tracker",
        "udp://t2.example:6969",
        "--web-seed",
        "http://ws.example/",
        "--piece-length",
        "16KiB",
        "--private",
        "--comment",
        "hello"
      ])
      assert.strictEqual(created.code, 0, created.stderr)
      const hash = /info hash: ([0-9a-f]{40})/.exec(created.stdout)?.[1]
      assert.isDefined(hash, created.stdout)

      const info = yield* cli(["info", "--json", out])
      assert.strictEqual(info.code, 0, info.stderr)
      const json = JSON.parse(info.stdout) as Record<string, unknown>
      assert.strictEqual(json.infoHash, hash)
      assert.strictEqual(json.name, "My Files")
      assert.strictEqual(json.pieceLength, 16384)
      assert.strictEqual(json.totalSize, a.length + b.length)
      assert.deepStrictEqual(json.files, [
        { path: "My Files/b.bin", size: b.length },
        { path: "My Files/sub/a.bin", size: a.length }
      ])
      assert.deepStrictEqual(json.trackers, [
        ["http://t1.example/announce", "http://t1b.example/announce"],
        ["udp://t2.example:6969"]
      ])
      assert.deepStrictEqual(json.webSeeds, ["http://ws.example/"])
      assert.strictEqual(json.private, true)
      assert.strictEqual(json.comment, "hello")
      assert.strictEqual(json.creationDate, null)

      const m = yield* parseMetainfo(fs.readFileSync(out))
      const all = Buffer.concat([b, a])
      for (let i = 0; i < m.pieceCount; i++) {
        const piece = all.subarray(i * 16384, (i + 1) * 16384)
        assert.strictEqual(hex(m.pieces.subarray(i * 20, i * 20 + 20)), createHash("sha1").update(piece).digest("hex"))
      }

      // Same input → same bytes; existing output is not overwritten without --force.
      const again = yield* cli(["create", payload, "-o", out, "--piece-length", "16384"])
      assertOneErrorLine(again, "already exists", "no overwrite")
      const forced = yield* cli([
        "create", payload, "-o", out, "-f", "--piece-length", "16384", "--private", "--comment", "hello",
        "--web-seed", "http://ws.example/", "--tracker", "http://t1.example/announce,http://t1b.example/announce",
        "--tracker", "udp://t2.example:6969"
      ])
      assert.strictEqual(forced.code, 0, forced.stderr)
      assert.include(forced.stdout, `info hash: ${hash}`)
    }), 120_000)

  it.live("memory stays flat: a 1 GiB input costs no more than an 8 MiB one", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const small = path.join(dir, "small.bin")
      const big = path.join(dir, "big.bin")
      fs.writeFileSync(small, "")
      fs.truncateSync(small, 8 * 1024 * 1024)
      fs.writeFileSync(big, "")
      fs.truncateSync(big, 1024 * 1024 * 1024)
      const script = path.join(dir, "rss.ts")
      const create = path.join(ROOT, "src", "metainfo", "create.ts")
      fs.writeFileSync(
        script,
        `import * as NodeFileSystem from ${JSON.stringify(import.meta.resolve("@effect/platform-node-shared/NodeFileSystem"))}\n` +
          `import { Effect } from ${JSON.stringify(import.meta.resolve("effect"))}\n` +
          `import { createTorrent } from ${JSON.stringify(create)}\n` +
          `const r = await Effect.runPromise(createTorrent(process.argv[2], { pieceLength: 16 * 1024 * 1024 }).pipe(Effect.provide(NodeFileSystem.layer)))\n` +
          `console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, pieces: r.metainfo.pieceCount }))\n`
      )
      const measure = (file: string) =>
        Effect.callback<{ rss: number; pieces: number }>((resume) => {
          execFile(process.execPath, [script, file], { cwd: ROOT, encoding: "utf8" }, (error, stdout, stderr) => {
            resume(error === null ? Effect.succeed(JSON.parse(stdout)) : Effect.die(new Error(stderr)))
          })
        })
      const s = yield* measure(small)
      const l = yield* measure(big)
      assert.strictEqual(s.pieces, 1)
      assert.strictEqual(l.pieces, 64)
      // One 16 MiB piece would be +16 MiB per piece held; 1 GiB buffered would be +1 GiB.
      assert.isBelow(l.rss - s.rss, 48 * 1024 * 1024, `rss ${s.rss} → ${l.rss}`)
    }), 120_000)
})

describe("bad input: one line on stderr, non-zero exit, no stack trace", () => {
  it.live("missing file, not a torrent, truncated, invalid, bad magnet, directory, bad flags", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const truncated = path.join(dir, "truncated.torrent")
      fs.writeFileSync(truncated, fs.readFileSync(path.join(FIXTURES, "alice.torrent")).subarray(0, 120))
      const missing = path.join(dir, "missing.torrent")
      const fifo = path.join(dir, "fifo.torrent")
      execFileSync("mkfifo", [fifo])
      const locked = path.join(dir, "locked.torrent")
      fs.copyFileSync(path.join(FIXTURES, "alice.torrent"), locked)
      fs.chmodSync(locked, 0)
      // root reads mode-000 files anyway; the check is only meaningful for other users
      const permission: typeof cases = process.getuid?.() === 0 ? [] : [[["info", locked], "locked.torrent: permission denied"]]
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        ...permission,
        [["info", fifo], "fifo.torrent: not a regular file (FIFO)"],
        [["info", path.join(FIXTURES, "alice.txt", "x.torrent")], "x.torrent: not a directory"],
        [["info", missing], `${missing}: no such file or directory`],
        [["info", path.join(FIXTURES, "alice.txt")], "alice.txt: not a torrent ("],
        [["info", truncated], "truncated.torrent: not a torrent ("],
        [["info", path.join(FIXTURES, "corrupt.torrent")], "corrupt.torrent: invalid torrent ("],
        [["info", "magnet:?xt=urn:btih:nothex"], "invalid magnet link"],
        [["info", "magnet:?dn=no-hash"], "invalid magnet link"],
        [["info", dir], "is a directory"],
        [["info", "--json", missing], "no such file or directory"],
        [["create", path.join(dir, "nope"), "-o", path.join(dir, "x.torrent")], "nope: no such file or directory"],
        [["create", path.join(FIXTURES, "alice.txt"), "-o", path.join(dir, "y.torrent"), "--piece-length", "3MB"], "--piece-length"],
        [["create", path.join(FIXTURES, "alice.txt"), "-o", path.join(dir, "no-such-dir", "z.torrent")], "z.torrent"],
        [["create", path.join(FIXTURES, "alice.txt"), "-o", path.join(dir, "w.torrent"), "--tracker", "not a url"], "invalid tracker URL"]
      ]
      const runs = yield* Effect.forEach(cases, ([args]) => cli(args), { concurrency: 4 })
      for (const [i, [args, includes]] of cases.entries()) {
        const run = runs[i]
        assert.isDefined(run)
        if (run !== undefined) assertOneErrorLine(run, includes, args.join(" "))
      }
    }), 120_000)

  it.live("success exits with 0", () =>
    Effect.gen(function*() {
      const run = yield* cli(["info", path.join(FIXTURES, "numbers.torrent")])
      assert.strictEqual(run.code, 0)
      assert.strictEqual(run.stderr, "")
    }), 120_000)
})

describe("cli helpers", () => {
  it("renderProgress fits the terminal and shows percent and sizes", () => {
    const line = renderProgress("hashing", 512 * 1024, 1024 * 1024, 1000, 80)
    assert.isAtMost(line.length, 80)
    assert.include(line, "50.0%")
    assert.include(line, "512 KiB / 1 MiB")
    assert.include(line, "512 KiB/s")
    assert.isAtMost(renderProgress("hashing", 1, 2, 0, 20).length, 19)
  })

  it("failureLine: one line for failures and defects, nothing for Ctrl-C and usage errors", () => {
    assert.strictEqual(
      failureLine(Cause.fail(new CliInputError({ subject: "a.torrent", detail: "not a torrent (x)" }))),
      "error: a.torrent: not a torrent (x)"
    )
    assert.strictEqual(failureLine(Cause.die(new Error("boom\n    at somewhere"))), "error: internal error: boom")
    assert.strictEqual(failureLine(Cause.fail(new CliInputError({ subject: "", detail: "tab\there" }))), "error: tab\\x09here")
    assert.isUndefined(failureLine(Cause.interrupt()))
    assert.isUndefined(failureLine(Cause.fail(new CliError.ShowHelp({ commandPath: ["x"], errors: [] }))))
  })
})
