/**
 * Our `download` command as a user runs it against reference peers: spawned from source,
 * run to its end, and judged by what a user would check (exit 0, the `complete` line,
 * the files byte for byte against the seeder's).
 */
import { assert } from "@effect/vitest"
import { type Duration, Effect, Option, Schema } from "effect"
import { join } from "node:path"
import type { Metainfo } from "../../../src/metainfo/model.ts"
import { assertSameData, freePort } from "./harness.ts"
import { spawnProcess } from "./process.ts"

/** One `--json` line: an object with its `type` and the rest. */
const decodeEvent = Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Record(Schema.String, Schema.Unknown)))

/** The CLI's entry point, run from source by node. */
export const CLI_BIN = join(import.meta.dirname, "..", "..", "..", "src", "cli", "bin.ts")

export interface CliDownload {
  /** Run in this directory. */
  readonly work: string
  /** A .torrent path or a magnet link. */
  readonly source: string
  readonly out: string
  /** Ports of peers on 127.0.0.1, each given as `--peer`. */
  readonly peers: ReadonlyArray<number>
  readonly timeout: Duration.Input
  /** What must come out: the torrent (its files are compared with `src`), its name and size. */
  readonly expect: { readonly meta: Metainfo; readonly src: string; readonly infoHash: string; readonly bytes: number }
}

/**
 * Runs `download SOURCE --out OUT --peer … --no-dht --json` (--no-dht: tests never contact
 * the public DHT routers; everything else is the default) and checks its end. Gives back
 * every JSON line it printed, for the caller's own checks.
 */
export const downloadWithCli = (options: CliDownload) =>
  Effect.gen(function*() {
    const peers = options.peers.flatMap((port) => ["--peer", `127.0.0.1:${port}`])
    const download = yield* spawnProcess("effect-torrent download", process.execPath, [
      CLI_BIN, "download", options.source, "--out", options.out, ...peers, "--no-dht", "--json"
    ], { cwd: options.work })
    const code = yield* download.waitExit(options.timeout)
    assert.strictEqual(code, 0, download.output().slice(-2000))
    const events = download.lines().flatMap((line) => Option.toArray(decodeEvent(line)))
    const complete = events.find((e) => e["type"] === "complete")
    assert.isDefined(complete, download.output().slice(-2000))
    // a v2 torrent is named by its truncated SHA-256 (BEP 52), as libtorrent names it
    assert.strictEqual(complete?.["infoHash"], options.expect.infoHash)
    assert.strictEqual(complete?.["bytes"], options.expect.bytes)
    yield* assertSameData(options.expect.meta, options.expect.src, options.out)
    return events
  })

/**
 * Runs `seed TORRENT --data DATA --port P --no-dht --json` (P a free port) in the test's
 * scope until it reports seeding; gives back P, for a reference peer to dial.
 */
export const seedWithCli = (options: { readonly work: string; readonly torrent: string; readonly data: string }) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const seed = yield* spawnProcess("effect-torrent seed", process.execPath, [
      CLI_BIN, "seed", options.torrent, "--data", options.data, "--port", String(port), "--no-dht", "--json"
    ], { cwd: options.work })
    yield* seed.waitFor("seeding", () => seed.lines().find((l) => l.includes("\"status\":\"seeding\"")), "60 seconds")
    return port
  })

/**
 * The `pieceLayers` events of a download whose piece layers came from peers: from 0 of
 * `files` (shown before any peer answered) to all of them, never going back, and before
 * the first progress line (no data moves before the layers are whole).
 */
export const assertLayerPhase = (events: ReadonlyArray<Record<string, unknown>>, files: number) => {
  const phase = events.filter((e) => e["type"] === "pieceLayers")
  assert.isAbove(phase.length, 0, "the piece layer phase is shown")
  assert.deepInclude(phase[0], { files: 0, total: files })
  assert.deepInclude(phase[phase.length - 1], { files, total: files })
  const counts = phase.map((e) => Number(e["files"]))
  assert.deepStrictEqual(counts, [...counts].sort((a, b) => a - b), "files done never go back")
  assert.isTrue(phase.some((e) => Number(e["peers"]) > 0), "the peer asked is counted")
  const lastLayer = events.lastIndexOf(phase[phase.length - 1] ?? {})
  const firstProgress = events.findIndex((e) => e["type"] === "progress")
  assert.isBelow(lastLayer, firstProgress, "the layers come before any progress line")
}
