/**
 * `effect-torrent trace FILE [--peer ADDR] [--kind TYPE,...] [--lines] [--report FILE.html] [--json]`
 *
 * Summarises a trace (docs/TRACE.md) from `download --trace`, `seed --trace`, the daemon or
 * `simulate --trace`: messages per peer and direction, when each side unchoked the other,
 * request-to-block latency percentiles, the bytes each peer sent and received, and every
 * close with its reason. `--peer` and `--kind` narrow it; `--lines` prints the matching
 * lines themselves, one readable line each. `--report` writes the same HTML page of plots as
 * `simulate --report` (completion, throughput, availability, bytes per peer, bans).
 */
import { Console, Effect, FileSystem, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { intervalTotal, matchesFilter, type PeerSummary, readTrace, summarizeTrace, type TraceFilter, type TraceLine } from "../trace/index.ts"
import { CliInputError, fsError } from "./errors.ts"
import { formatBytes } from "./units.ts"

const ms = (n: number | null) => (n === null ? "-" : n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${n.toFixed(n < 10 ? 3 : 1)} ms`)

const counts = (c: Readonly<Record<string, number>>) =>
  Object.entries(c).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ") || "-"

const who = (p: { readonly host?: string; readonly addr: string }) => (p.host === undefined ? p.addr : `${p.host} ← ${p.addr}`)

const peerBlock = (p: PeerSummary, end: number): string => {
  const about = [p.client, p.transport, p.encryption].filter((x) => x !== undefined).join(", ")
  const unchoked = (label: string, xs: PeerSummary["unchokedUs"]) =>
    xs.length === 0 ? `  ${label}: never` : `  ${label}: ${xs.map((i) => `${ms(i.from)}–${i.to === null ? "end" : ms(i.to)}`).join(", ")} (${ms(intervalTotal(xs, end))} in all)`
  return [
    `${who(p)}${about === "" ? "" : ` (${about})`}`,
    `  received: ${counts(p.received)}`,
    `  sent: ${counts(p.sent)}`,
    `  bytes: ${formatBytes(p.bytesIn)} from it, ${formatBytes(p.bytesOut)} to it`,
    unchoked("it unchoked us", p.unchokedUs),
    unchoked("we unchoked it", p.unchokedByUs),
    ...p.closes.map((c) => `  closed at ${ms(c.t)}: ${c.reason}: ${c.detail}`)
  ].join("\n")
}

/** One trace line as text: time (from the trace's first line), who, direction, the event. */
const lineText = (line: TraceLine, origin: number): string => {
  const { type, ...fields } = line.ev
  const detail = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ")
  const arrow = (line.dir ?? "").padEnd(3)
  const whom = [line.host, line.peer?.addr].filter((x) => x !== undefined).join(" ")
  return `${(line.t - origin).toFixed(3).padStart(12)} ${whom} ${arrow} ${type}${detail === "" ? "" : ` ${detail}`}`
}

export const traceCommand = Command.make(
  "trace",
  {
    file: Argument.String("file").pipe(Argument.withDescription("a trace (JSON lines) from --trace")),
    peer: Flag.String("peer").pipe(Flag.withDescription("only this peer: HOST:PORT, or HOST for every port"), Flag.optional),
    kind: Flag.String("kind").pipe(Flag.withDescription("only these events, comma separated: Request,Piece,close,…"), Flag.optional),
    lines: Flag.Boolean("lines").pipe(Flag.withDescription("print the matching lines, not a summary"), Flag.withDefault(false)),
    report: Flag.String("report").pipe(Flag.withDescription("also write a self-contained HTML report (plots) here"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the summary as one JSON object"), Flag.withDefault(false))
  },
  Effect.fn("cli.trace")(function*(args) {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(args.file).pipe(Effect.mapError(fsError(args.file)))
    const read = readTrace(text)
    const first = read.bad[0]
    if (first !== undefined && read.lines.length === 0) {
      return yield* new CliInputError({ subject: args.file, detail: `not a trace: line ${first.line}: ${first.message}` })
    }
    const filter: TraceFilter = {
      ...(Option.isSome(args.peer) ? { peer: args.peer.value } : {}),
      ...(Option.isSome(args.kind) ? { kinds: args.kind.value.split(",").map((k) => k.trim()).filter((k) => k !== "") } : {})
    }
    for (const b of read.bad.slice(0, 5)) yield* Console.error(`warning: line ${b.line} skipped: ${b.message}`)
    if (read.torn) yield* Console.error("warning: the last line is incomplete (the run was killed while writing it); skipped")
    if (Option.isSome(args.report)) {
      const path = args.report.value
      // the simulator's modules are loaded only for a report
      const sim = yield* Effect.promise(() => import("../sim/index.ts"))
      const input = sim.reportInputOfTrace(read.lines, `effect-torrent trace ${args.file}`)
      if (typeof input === "string") return yield* new CliInputError({ subject: args.file, detail: `cannot report: ${input}` })
      yield* fs.writeFileString(path, sim.renderReportHtml(sim.buildReportModel(input))).pipe(Effect.mapError(fsError(path)))
      if (!args.json) yield* Console.error(`report written to ${path}`)
    }
    if (args.lines) {
      const origin = read.lines[0]?.t ?? 0
      for (const line of read.lines) if (matchesFilter(line, filter)) yield* Console.log(lineText(line, origin))
      return
    }
    const s = summarizeTrace(read.lines, filter)
    if (args.json) return yield* Console.log(JSON.stringify({ ...s, skipped: read.bad.length, torn: read.torn }))
    const origin = s.firstT ?? 0
    const end = s.lastT ?? 0
    const rel = (p: PeerSummary): PeerSummary => ({
      ...p,
      unchokedUs: p.unchokedUs.map((i) => ({ from: i.from - origin, to: i.to === null ? null : i.to - origin })),
      unchokedByUs: p.unchokedByUs.map((i) => ({ from: i.from - origin, to: i.to === null ? null : i.to - origin })),
      closes: p.closes.map((c) => ({ ...c, t: c.t - origin }))
    })
    const reasons = Object.entries(s.closeReasons).map(([r, n]) => `${r} ${n}`).join(", ") || "none"
    yield* Console.log([
      `${s.lines} lines over ${ms(end - origin)}; ${s.peers.length} peers; pieces verified ${s.piecesVerified}, failed ${s.piecesFailed}`,
      `request → block latency: p50 ${ms(s.latency.p50)}, p90 ${ms(s.latency.p90)}, p99 ${ms(s.latency.p99)}, max ${ms(s.latency.max)} (${s.latency.count} blocks)`,
      `closes: ${reasons}`,
      "",
      ...s.peers.map((p) => peerBlock(rel(p), end - origin))
    ].join("\n"))
  })
).pipe(Command.withDescription("summarise a trace written by --trace: messages, choking, latency, bytes, closes"))
