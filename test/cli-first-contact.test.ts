/**
 * A newcomer's first contact with the command line (issue 11, point 6): what the live line,
 * the check bar, `info` and `create` show, and how a stopped run ends. Pure renderers are
 * tested directly; the rest runs the real executable on temp dirs and 127.0.0.1.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Option } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { encode } from "../src/bencode/index.ts"
import { fileLines, magnetOf } from "../src/cli/info-render.ts"
import { renderProgress } from "../src/cli/progress.ts"
import { logLine, noMetadataPeersLine, noPieceLayersPeersLine, pieceLayersLine, seedingLine } from "../src/cli/run-messages.ts"
import { pickPort, portFallbackLine } from "../src/cli/port.ts"
import { Network, NodeNetwork } from "../src/net/index.ts"
import { parseSelection, renderStatusLine } from "../src/cli/status-view.ts"
import { parseMagnet, parseMetainfo } from "../src/metainfo/index.ts"
import type { TorrentState } from "../src/torrent/index.ts"
import { sameFile, tempDir, writePayload } from "./support/files.ts"
import { seed, webTorrentClient } from "./support/webtorrent.ts"
import { eventually } from "./support/waiting.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cli = (args: ReadonlyArray<string>, cwd?: string): Effect.Effect<Run> =>
  Effect.callback<Run>((resume) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd, encoding: "utf8" }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : child.exitCode, stdout, stderr }))
    })
  })

const state = (over: Partial<TorrentState>): TorrentState => ({
  infoHash: "00".repeat(20) as TorrentState["infoHash"],
  name: "ubuntu-24.04.1-desktop-amd64.iso",
  status: "downloading",
  wantedBytes: 6_000_000_000,
  verifiedBytes: 2_700_000_000,
  progress: 0.45,
  pieceCount: 22_889,
  piecesVerified: 10_300,
  downloaded: 2_700_000_000,
  uploaded: 0,
  downloadRate: 11_534_336,
  uploadRate: 1_258_291,
  peers: 12,
  seeds: 3,
  candidates: 0,
  eta: 3725,
  error: null,
  trackers: [],
  ...over
})

/** A v1 torrent whose files are NOT in sorted order: a/x, b/y, a/z. */
const unsortedTorrent = () => {
  const sizes = [3000, 2000, 1000]
  const pieceLength = 16384
  return encode({
    info: {
      name: "t",
      "piece length": pieceLength,
      pieces: new Uint8Array(20),
      files: [["a", "x"], ["b", "y"], ["a", "z"]].map((path, i) => ({ length: sizes[i] ?? 0, path }))
    }
  })
}

describe("first contact: what the screens say", () => {
  it.effect("info numbers the files exactly as --select counts them (a/x, b/y, a/z: 2 is b/y)", () =>
    Effect.gen(function*() {
      const meta = yield* parseMetainfo(unsortedTorrent())
      const lines = fileLines(meta.files)
      assert.deepStrictEqual(lines, ["  1  t/a/x  (2.93 KiB)", "  2  t/b/y  (1.95 KiB)", "  3  t/a/z  (1000 B)"])
      const picked = parseSelection("2", meta.files.length) ?? []
      assert.deepStrictEqual(picked.map((i) => meta.files[i]?.path.join("/")), ["t/b/y"])
    }))

  it.live("info and create print the magnet link, which reads back to the same torrent", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "data"), { "one.bin": 40_000, "two.bin": 10_000 })
      const torrentPath = join(dir, "d.torrent")
      const created = yield* cli(["create", join(dir, "data"), "-o", torrentPath, "--tracker", "http://127.0.0.1:1/announce"])
      assert.strictEqual(created.code, 0, created.stderr)
      const meta = yield* parseMetainfo(readFileSync(torrentPath))
      const line = created.stdout.split("\n").find((l) => l.startsWith("magnet: "))
      assert.strictEqual(line, `magnet: ${magnetOf(meta)}`)
      const magnet = yield* parseMagnet((line ?? "").slice("magnet: ".length))
      assert.deepStrictEqual(magnet.infoHash, meta.infoHash)
      assert.strictEqual(magnet.name, "data")
      assert.deepStrictEqual(magnet.trackers, ["http://127.0.0.1:1/announce"])

      const info = yield* cli(["info", torrentPath])
      assert.strictEqual(info.code, 0, info.stderr)
      assert.match(info.stdout, new RegExp(`^magnet: +${magnetOf(meta).replace(/[?.*+]/g, "\\$&")}$`, "m"))
      assert.include(info.stdout, "  1  data/one.bin  (39.1 KiB)")
      const json = yield* cli(["info", "--json", torrentPath])
      assert.strictEqual((JSON.parse(json.stdout) as { magnet: string }).magnet, magnetOf(meta))
    }))

  it("the live line fits an 80-column terminal whole: name, ETA and pieces, nothing cut mid-word", () => {
    for (const columns of [80, 100, 120, 200]) {
      const line = renderStatusLine(state({}), columns)
      assert.isAtMost(line.length, columns - 1, `${columns}: ${line}`)
      assert.include(line, "ETA 1h02m", `${columns}: ${line}`)
      assert.include(line, "pieces 10300/22889", `${columns}: ${line}`)
      assert.match(line, /^ubuntu/, `${columns}: the name leads: ${line}`)
      assert.include(line, "peers 12", `${columns}: ${line}`)
    }
    assert.include(renderStatusLine(state({}), 200), "ubuntu-24.04.1-desktop-amd64.iso")
    assert.include(renderStatusLine(state({}), 200), "(3 seeds)")
    // Narrower still: whole fields go from the end, the rest stays readable.
    const narrow = renderStatusLine(state({}), 40)
    assert.isAtMost(narrow.length, 39)
    assert.match(narrow, /^45\.0%/)
    assert.notMatch(narrow, /\b(pieces|ETA|peers|down|up)$/)
  })

  it("the check bar counts pieces as pieces, not bytes", () => {
    const line = renderProgress("checking", 1024, 4096, 2000, 100, "pieces")
    assert.include(line, "1024 / 4096 pieces")
    assert.include(line, "512 pieces/s")
    assert.notInclude(line, "KiB")
    assert.isAtMost(line.length, 99)
  })

  it("seeding says how it will end: Ctrl-C only when there is no goal", () => {
    assert.strictEqual(seedingLine({ seedRatio: undefined, seedTime: undefined }), "seeding; press Ctrl-C to stop")
    const line = seedingLine({ seedRatio: 2, seedTime: Duration.minutes(30) })
    assert.include(line, "ratio 2")
    assert.include(line, "30m00s")
    assert.notInclude(line, "press Ctrl-C to stop")
  })

  it.live("create --help describes every flag (--comment too)", () =>
    Effect.gen(function*() {
      const help = yield* cli(["create", "--help"])
      const comment = help.stdout.split("\n").find((l) => l.includes("--comment"))
      assert.match(comment ?? "", /--comment, -c string\s+\S/)
    }))
})

interface Running {
  readonly child: ChildProcess
  readonly stdout: Array<string>
  readonly stderr: Array<string>
  readonly exited: Deferred.Deferred<number | null>
}

const start = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const exited = yield* Deferred.make<number | null>()
      const child = spawn(process.execPath, [BIN, ...args, "--no-dht", "--no-lsd"], { stdio: ["ignore", "pipe", "pipe"] })
      const stdout: Array<string> = []
      const stderr: Array<string> = []
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => stdout.push(chunk))
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk))
      child.on("exit", (code) => Deferred.doneUnsafe(exited, Effect.succeed(code)))
      return { child, stdout, stderr, exited } satisfies Running
    }),
    (r) => Effect.sync(() => { if (r.child.exitCode === null && r.child.pid !== undefined) process.kill(r.child.pid, "SIGKILL") })
  )

describe("first contact: stopping", () => {
  it.live("Ctrl-C ends with a closing line and exit code 130; SIGTERM with 0; uploaded bytes are formatted", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "data"), { "one.bin": 100_000 })
      const torrentPath = join(dir, "d.torrent")
      assert.strictEqual((yield* cli(["create", join(dir, "data"), "-o", torrentPath])).code, 0)
      for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 0]] as const) {
        const seeder = yield* start(["seed", torrentPath, "--data", dir, "--port", "0"])
        yield* eventually("seeding", Effect.sync(() => seeder.stderr.join("")), (s) => s.includes("seeding; press Ctrl-C"), 60)
        seeder.child.kill(signal)
        assert.strictEqual(yield* Deferred.await(seeder.exited).pipe(Effect.timeout("20 seconds")), code, signal)
        const last = seeder.stderr.join("").trimEnd().split("\n").at(-1) ?? ""
        assert.strictEqual(last, "data: stopped, complete, uploaded 0 B", signal)
      }
    }), 120_000)
})

describe("first contact: wrong command lines, busy ports, peers that never come", () => {
  it.live("an unknown flag, a missing argument or an unknown command: the error first, then one line of usage", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string, string]> = [
        [["download", "x.torrent", "--bogus"], "error: Unrecognized flag: --bogus", "usage: effect-torrent download [flags] <torrent>"],
        [["download"], "error: Missing required argument: torrent", "usage: effect-torrent download [flags] <torrent>"],
        [["demolish"], "error: Unknown subcommand \"demolish\"", "usage: effect-torrent <subcommand> [flags]"]
      ]
      for (const [args, error, usage] of cases) {
        const run = yield* cli(args)
        assert.strictEqual(run.code, 1, args.join(" "))
        assert.strictEqual(run.stdout, "", `${args.join(" ")}: no help page on stdout`)
        const lines = run.stderr.trimEnd().split("\n")
        assert.strictEqual(lines.length, 3, run.stderr)
        assert.isTrue(lines[0]?.startsWith(error), run.stderr)
        assert.strictEqual(lines[1], usage)
        assert.match(lines[2] ?? "", /--help lists/)
      }
    }))

  it.live("a taken port: the next free one is used, and the line says which was taken", () =>
    Effect.gen(function*() {
      const network = yield* Network
      // One port held on TCP, the next on UDP only: both count as taken.
      const held = yield* network.listen({ host: "127.0.0.1", port: 0 })
      const first = held.address.port
      const udpHeld = yield* Effect.option(network.udp({ host: "127.0.0.1", port: first + 1 }))
      const picked = yield* pickPort("127.0.0.1", first)
      const expectedTaken = Option.isSome(udpHeld) ? [first, first + 1] : [first]
      assert.deepStrictEqual(picked.taken.slice(0, expectedTaken.length), expectedTaken)
      assert.isAbove(picked.port, first)
      assert.strictEqual(portFallbackLine([6881], 6882), "port 6881 is in use (another BitTorrent client?); listening on port 6882 instead")
      assert.include(portFallbackLine([6881, 6882, 6883], 6884), "port 6881-6883 is in use")
    }).pipe(Effect.scoped, Effect.provide(NodeNetwork.layer)))

  it("the metadata hint says where the client looked", () => {
    assert.include(noMetadataPeersLine({ trackers: 0, linkPeers: 0, extraPeers: 0, dht: false }), "try --peer HOST:PORT")
    const asked = noMetadataPeersLine({ trackers: 2, linkPeers: 1, extraPeers: 1, dht: true })
    assert.include(asked, "2 tracker(s), 2 peer address(es), the DHT")
    assert.match(asked, /^no peers for the metadata after 30s/)
  })

  it("the piece layer phase says how many files' layers are whole, from how many peers", () => {
    assert.strictEqual(pieceLayersLine({ files: 0, total: 3, peers: 0 }), "fetching piece layers: 0/3 files, 0 peers")
    assert.strictEqual(pieceLayersLine({ files: 2, total: 3, peers: 1 }), "fetching piece layers: 2/3 files, 1 peer")
    assert.match(noPieceLayersPeersLine(), /^no peers for the piece layers after 30s .*try --peer HOST:PORT/)
  })

  it.live("download <magnet without x.pe> --peer HOST:PORT gets the metadata from that peer and completes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "src", "pay"), { "a.bin": 300_000, "b.bin": 70_000 })
      const wt = yield* webTorrentClient
      const meta = yield* parseMetainfo(yield* seed(wt.client, join(dir, "src", "pay")))
      const magnet = magnetOf(meta)
      assert.notInclude(magnet, "x.pe")
      const leecher = yield* start(["download", magnet, "--out", join(dir, "out"), "--port", "0", "--json", "--peer", `127.0.0.1:${wt.port}`])
      assert.strictEqual(yield* Deferred.await(leecher.exited).pipe(Effect.timeout("90 seconds")), 0, leecher.stderr.join(""))
      const last = leecher.stdout.join("").trimEnd().split("\n").at(-1) ?? ""
      assert.deepInclude(JSON.parse(last), { type: "complete", name: "pay", bytes: 370_000 })
      assert.isTrue(yield* sameFile(join(dir, "src", "pay", "a.bin"), join(dir, "out", "pay", "a.bin")))
    }), 120_000)
})

describe("first contact: wrong directories, quiet runs, log lines", () => {
  it.live("--out naming a file, and seed --data naming the wrong directory: one line each, saying what and where", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "data"), { "one.bin": 40_000, "sub/two.bin": 10_000 })
      const torrentPath = join(dir, "d.torrent")
      assert.strictEqual((yield* cli(["create", join(dir, "data"), "-o", torrentPath])).code, 0)
      writeFileSync(join(dir, "afile"), "x")
      const out = yield* cli(["download", torrentPath, "--out", join(dir, "afile"), "--port", "0", "--no-dht", "--no-lsd"])
      assert.strictEqual(out.code, 1)
      assert.strictEqual(out.stderr, `error: --out ${join(dir, "afile")}: is a file, not a directory\n`)

      const wrong = yield* cli(["seed", torrentPath, "--data", join(dir, "data"), "--port", "0", "--no-dht", "--no-lsd"])
      assert.strictEqual(wrong.code, 1)
      assert.strictEqual(wrong.stderr.split("\n").filter((l) => l !== "").length, 1, wrong.stderr)
      assert.include(wrong.stderr, `error: --data ${join(dir, "data")}: none of the torrent's files is there (looked for ${join(dir, "data", "data", "one.bin")}`)
      assert.include(wrong.stderr, `point --data at the directory that holds the "data" folder`)
    }))

  it.live("--quiet: a whole download prints nothing, and exits 0", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      yield* writePayload(join(dir, "src", "pay"), { "a.bin": 200_000 })
      const wt = yield* webTorrentClient
      const torrent = yield* seed(wt.client, join(dir, "src", "pay"))
      const torrentPath = join(dir, "pay.torrent")
      writeFileSync(torrentPath, torrent)
      const run = yield* cli(["download", torrentPath, "--out", join(dir, "out"), "--port", "0", "--quiet", "--peer", `127.0.0.1:${wt.port}`, "--no-dht", "--no-lsd"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout + run.stderr, "")
      assert.isTrue(yield* sameFile(join(dir, "src", "pay", "a.bin"), join(dir, "out", "pay", "a.bin")))
    }), 120_000)

  it("the client's log lines read 'warning: …', not Effect's timestamp=… level=WARN fiber=#1", () => {
    assert.strictEqual(logLine("Warn", ["could not save", "dht.state"]), "warning: could not save dht.state")
    assert.strictEqual(logLine("Error", new Error("boom\nat x")), "error: boom\\x0aat x")
  })
})

describe("first contact: demo", () => {
  it.live("effect-torrent demo seeds random data from our own peers on 127.0.0.1, downloads it, verifies it, reports each peer and cleans up", () =>
    Effect.gen(function*() {
      const run = yield* cli(["demo", "--size", "3MiB", "--peers", "2"])
      assert.strictEqual(run.code, 0, run.stderr)
      const lines = run.stdout.trimEnd().split("\n")
      assert.match(lines[0] ?? "", /^demo: 3 MiB in 2 files, \d+ pieces, every one verified \(SHA-1\) and the copy identical byte for byte$/)
      assert.match(lines[1] ?? "", /^time \d+\.\d\d s, [\d.]+ \S+\/s$/)
      const fromPeers = lines.filter((l) => /^ {2}from 127\.0\.0\.1:\d+: /.test(l))
      assert.isAtLeast(fromPeers.length, 1, run.stdout)
      assert.isAtMost(fromPeers.length, 2, run.stdout)
      const removed = /^removing (\S+)$/.exec(lines.at(-1) ?? "")?.[1]
      assert.isDefined(removed)
      assert.isFalse(existsSync(removed ?? ""), "the temporary directory is gone")
      assert.include(run.stderr, "seeded by 2 of our own peers on 127.0.0.1")
      const bad = yield* cli(["demo", "--size", "lots"])
      assert.strictEqual(bad.stderr, "error: --size: expected a size from 1B to 4GiB like 64MiB, got \"lots\"\n")
    }), 120_000)
})
