/**
 * The CLI's parsers, directly: file selections, the flags `download` and `seed` share (each
 * problem one line naming one flag), the launcher's subcommand and Node checks. Sizes, rates
 * and durations: cli-units.test.ts.
 * The executable itself is tested in cli*.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import fc from "fast-check"
import { MIN_NODE, nodeVersionProblem, subcommandOf } from "../src/cli/argv.ts"
import { planFromArgs, type SharedArgs } from "../src/cli/run-torrent.ts"
import { parseSelection } from "../src/cli/status-view.ts"

const args = (patch: Partial<SharedArgs> = {}): SharedArgs => ({
  port: Option.none(),
  quiet: false,
  maxPeers: 50,
  peer: [],
  uploadLimit: Option.none(),
  downloadLimit: Option.none(),
  seedRatio: Option.none(),
  seedTime: Option.none(),
  json: false,
  dhtBootstrap: [],
  noDht: false,
  noLsd: false,
  noWebSeeds: false,
  transports: Option.none(),
  encryption: "prefer",
  trace: Option.none(),
  ...patch
})

describe("parseSelection", () => {
  it("1-based numbers and ranges become sorted 0-based indices, each once", () => {
    assert.deepStrictEqual(parseSelection("1", 3), [0])
    assert.deepStrictEqual(parseSelection("3,1", 3), [0, 2])
    assert.deepStrictEqual(parseSelection("1-3", 5), [0, 1, 2])
    assert.deepStrictEqual(parseSelection("2-4, 3 ,5", 5), [1, 2, 3, 4])
  })

  it("numbers outside 1..fileCount, reversed ranges and junk are refused", () => {
    for (const bad of ["0", "4", "3-2", "1-4", "", "1,", "a", "1..2", "-1", "1-"]) assert.isUndefined(parseSelection(bad, 3), bad)
  })

  it("any valid selection round-trips through its 1-based list", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }).chain((n) => fc.tuple(fc.constant(n), fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1 }))), ([n, picked]) => {
      const parsed = parseSelection(picked.map((i) => String(i + 1)).join(","), n)
      return parsed !== undefined && JSON.stringify(parsed) === JSON.stringify([...picked].sort((a, b) => a - b))
    }))
  })
})

describe("planFromArgs (the flags download and seed share)", () => {
  const failure = (patch: Partial<SharedArgs>) =>
    Effect.flip(planFromArgs(args(patch))).pipe(Effect.map((e) => ({ subject: e.subject, detail: e.detail })))

  it.effect("defaults: no peers, no limits, seeding forever", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* planFromArgs(args()), { peers: [], uploadLimit: undefined, downloadLimit: undefined, encryption: "prefer", seedRatio: undefined, seedTime: undefined, transports: undefined })
      assert.strictEqual((yield* planFromArgs(args({ encryption: "require" }))).encryption, "require")
    }))

  it.effect("peers (IPv4, IPv6, names), rates, a seed ratio and a seed time", () =>
    Effect.gen(function*() {
      const plan = yield* planFromArgs(args({
        peer: ["127.0.0.1:6881", "[::1]:51413", "seed.example:7000"],
        uploadLimit: Option.some("500k"),
        downloadLimit: Option.some("1.5M"),
        seedRatio: Option.some("2"),
        seedTime: Option.some("1h30m"),
        dhtBootstrap: ["router.example:6881"],
        transports: Option.some("tcp, UTP")
      }))
      assert.deepStrictEqual(plan.peers, [{ host: "127.0.0.1", port: 6881 }, { host: "::1", port: 51413 }, { host: "seed.example", port: 7000 }])
      assert.strictEqual(plan.uploadLimit, 500 * 1024)
      assert.strictEqual(plan.downloadLimit, 1.5 * 1024 * 1024)
      assert.strictEqual(plan.seedRatio, 2)
      assert.strictEqual(plan.seedTime === undefined ? undefined : Duration.toSeconds(plan.seedTime), 5400)
      assert.deepStrictEqual(plan.transports, ["tcp", "utp"])
    }))

  it.effect("each bad flag is one line naming that flag and what it got", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[Partial<SharedArgs>, string, RegExp]> = [
        [{ peer: ["127.0.0.1"] }, "--peer", /expected HOST:PORT, got "127.0.0.1"/],
        [{ peer: ["127.0.0.1:0"] }, "--peer", /HOST:PORT/],
        [{ peer: ["127.0.0.1:65536"] }, "--peer", /HOST:PORT/],
        [{ peer: ["::1:6881"] }, "--peer", /HOST:PORT/],
        [{ dhtBootstrap: ["router"] }, "--dht-bootstrap", /expected HOST:PORT, got "router"/],
        [{ maxPeers: 0 }, "--max-peers", /at least 1/],
        [{ port: Option.some(65536) }, "--port", /between 0 and 65535/],
        [{ port: Option.some(-1) }, "--port", /between 0 and 65535/],
        [{ uploadLimit: Option.some("fast") }, "--upload-limit", /expected a rate above 0 like 500k or 10M, got "fast"/],
        [{ downloadLimit: Option.some("0") }, "--download-limit", /got "0"/],
        [{ seedRatio: Option.some("-1") }, "--seed-ratio", /expected a number >= 0, got "-1"/],
        [{ seedRatio: Option.some("lots") }, "--seed-ratio", /got "lots"/],
        [{ seedTime: Option.some("forever") }, "--seed-time", /expected a duration like 90s, 30m, 2h or 1h30m, got "forever"/],
        [{ transports: Option.some("udp") }, "--transports", /expected utp, tcp or both separated by a comma, got "udp"/],
        [{ transports: Option.some("utp,utp") }, "--transports", /got "utp,utp"/],
        [{ transports: Option.some("") }, "--transports", /got ""/],
        [{ encryption: "sometimes" }, "--encryption", /expected prefer, require, disable; got "sometimes"/]
      ]
      for (const [patch, subject, detail] of cases) {
        const e = yield* failure(patch)
        assert.strictEqual(e.subject, subject, JSON.stringify(patch))
        assert.match(e.detail, detail)
        assert.notInclude(e.detail, "\n")
      }
    }))
})

describe("the launcher's view of argv", () => {
  const NAMES = ["download", "seed", "info", "create", "simulate"] as const

  it("the subcommand is the first argument that is neither a flag nor a global flag's value", () => {
    assert.strictEqual(subcommandOf(["download", "x.torrent"], NAMES), "download")
    assert.strictEqual(subcommandOf(["--log-level", "debug", "seed", "x"], NAMES), "seed")
    assert.strictEqual(subcommandOf(["--log-level=debug", "info", "x"], NAMES), "info")
    assert.strictEqual(subcommandOf(["-v", "create", "dir"], NAMES), "create")
    assert.isUndefined(subcommandOf([], NAMES))
    assert.isUndefined(subcommandOf(["frobnicate"], NAMES), "unknown: the parser lists them all")
    assert.isUndefined(subcommandOf(["download", "--completions", "bash"], NAMES), "completions need every subcommand")
    assert.isUndefined(subcommandOf(["--wizard"], NAMES))
  })

  it("Node versions older than MIN_NODE get one line saying what is needed", () => {
    assert.isUndefined(nodeVersionProblem(MIN_NODE + ".0"))
    assert.isUndefined(nodeVersionProblem("24.21.0"))
    assert.isUndefined(nodeVersionProblem("23.0.0"))
    const [major = 0, minor = 0] = MIN_NODE.split(".").map(Number)
    const older = minor > 0 ? `${major}.${minor - 1}.9` : `${major - 1}.99.0`
    const problem = nodeVersionProblem(older)
    assert.include(problem, `needs Node.js ${MIN_NODE} or newer`)
    assert.include(problem, `this is Node.js v${older}`)
    assert.notInclude(problem ?? "", "\n")
    assert.isDefined(nodeVersionProblem("20.20.2"))
  })
})
