/**
 * `download --trace` against a stock libtorrent seeder, as a user runs it (the installed
 * CLI, dist/cli): the trace records the handshake, the extended handshake, what the seeder
 * has (bitfield or have-all), interested, unchoke, requests and pieces, in an order the
 * protocol allows; `effect-torrent trace` reads it back with the same figures, and its
 * `--report` page (the simulation report's plots) renders in headless Chromium.
 */
import { assert, describe } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { readTrace, type TraceLine } from "../../src/trace/index.ts"
import { liveWith } from "../support/requirements.ts"
import { assertSameData, readTorrent, workspace } from "./support/harness.ts"
import { installed } from "./support/available.ts"
import { ltCreate, ltPeer } from "./support/peers.ts"
import { renderReport } from "./support/chromium.ts"
import { spawnProcess } from "./support/process.ts"

const BIN = fileURLToPath(new URL("../../dist/cli/effect-torrent.js", import.meta.url))
const SIZE = 3_000_017

/** Index of the first line of the seeder's connection matching `is`, or -1. */
const firstIndex = (lines: ReadonlyArray<TraceLine>, is: (l: TraceLine) => boolean) => lines.findIndex(is)

describe("interop: trace of a real run", () => {
  liveWith(installed.libtorrent, installed.chromium)("download --trace from a libtorrent seeder: every step of the wire in a valid order, read back by `trace`", () =>
    Effect.gen(function*() {
      const { src, out, torrentPath } = yield* workspace({ "clip.bin": SIZE }, "clip.bin")
      yield* ltCreate(join(src, "clip.bin"), torrentPath, { pieceLength: 64 * 1024 })
      const { meta } = yield* readTorrent(torrentPath)
      const seeder = yield* ltPeer("libtorrent seeder", "seed", { torrent: torrentPath, save: src })
      const tracePath = join(out, "..", "run.jsonl")
      const download = yield* spawnProcess("effect-torrent download", process.execPath, [
        BIN, "download", torrentPath, "--out", out, "--peer", `127.0.0.1:${seeder.port}`, "--no-dht", "--no-lsd", "--trace", tracePath, "--json"
      ])
      const code = yield* download.waitExit("90 seconds")
      assert.strictEqual(code, 0, download.output())
      yield* assertSameData(meta, src, out)

      const trace = readTrace(readFileSync(tracePath, "utf8"))
      assert.deepStrictEqual(trace.bad, [], "every line decodes with TraceLine")
      assert.isFalse(trace.torn)
      const addr = `127.0.0.1:${seeder.port}`
      const lines = trace.lines.filter((l) => l.peer?.addr === addr)
      assert.isAbove(lines.length, 0, "the seeder's connection is traced")
      assert.match(lines.find((l) => l.peer?.client !== undefined)?.peer?.client ?? "", /libtorrent/i, "named from its peer id")
      const at = (dir: "in" | "out", type: string, extra: (l: TraceLine) => boolean = () => true) =>
        firstIndex(lines, (l) => l.dir === dir && l.ev.type === type && extra(l))
      const steps = {
        connect: at("out", "connect"),
        handshakeOut: at("out", "handshake"),
        handshakeIn: at("in", "handshake"),
        extendedIn: at("in", "Extended", (l) => l.ev.type === "Extended" && l.ev.id === 0),
        has: Math.max(at("in", "Bitfield"), at("in", "HaveAll")),
        interested: at("out", "Interested"),
        unchoke: at("in", "Unchoke"),
        request: at("out", "Request"),
        piece: at("in", "Piece")
      }
      for (const [step, index] of Object.entries(steps)) assert.isAtLeast(index, 0, `the trace has the seeder's ${step}`)
      // what BEP 3, 6 and 10 allow: handshakes first, then the rest; a request only once
      // interested and unchoked; a piece only for a request
      assert.isBelow(steps.connect, steps.handshakeOut)
      assert.isBelow(Math.max(steps.handshakeOut, steps.handshakeIn), Math.min(steps.extendedIn, steps.has, steps.interested, steps.unchoke))
      assert.isBelow(steps.interested, steps.request)
      assert.isBelow(steps.unchoke, steps.request)
      assert.isBelow(steps.request, steps.piece)
      const times = lines.map((l) => l.t)
      assert.deepStrictEqual(times, [...times].sort((a, b) => a - b), "a connection's lines are in time order")
      const received = lines.reduce((n, l) => n + (l.dir === "in" && l.ev.type === "Piece" ? l.ev.length : 0), 0)
      assert.strictEqual(received, SIZE, "every byte came as a traced Piece from libtorrent")
      assert.include(trace.lines.map((l) => l.ev.type), "complete")

      // the summary command agrees with the raw lines
      const summary = yield* spawnProcess("effect-torrent trace", process.execPath, [BIN, "trace", tracePath, "--peer", addr, "--json"])
      assert.strictEqual(yield* summary.waitExit("30 seconds"), 0, summary.output())
      const parsed = JSON.parse(summary.lines().join("\n")) as { peers: ReadonlyArray<{ addr: string; bytesIn: number; received?: number }> }
      const peer = parsed.peers.find((p) => p.addr === addr)
      assert.isDefined(peer, summary.output())
      assert.include(JSON.stringify(peer), String(SIZE), "the summary counts the same bytes from the seeder")

      // the HTML report of a real run: the same plots as a simulation's
      const reportPath = join(out, "..", "run.html")
      const reporting = yield* spawnProcess("effect-torrent trace --report", process.execPath, [BIN, "trace", tracePath, "--report", reportPath])
      assert.strictEqual(yield* reporting.waitExit("30 seconds"), 0, reporting.output())
      const { charts, problems, requests } = yield* renderReport(reportPath)
      assert.deepStrictEqual(problems, [])
      assert.deepStrictEqual(requests, [])
      for (const id of ["completion", "throughput", "availability", "updown"]) {
        const chart = charts.find((c) => c.id === id)
        assert.isAbove(chart?.drawn ?? 0, 0, `${id} plots the real run`)
      }
    }).pipe(Effect.scoped), 180_000)
})
