/**
 * Reading traces in tests: every line must decode with the one `TraceLine` schema (a line
 * that does not is a test failure), then flattened for easy filtering: a `sim` line is
 * `{ t, host, kind, ...data }`, any other `{ t, host, peer (its address), dir, kind: ev.type, ...ev }`.
 */
import { Result } from "effect"
import { decodeTraceLine, type TraceLine } from "../../src/trace/index.ts"

export interface FlatEvent {
  readonly t: number
  readonly kind: string
  readonly [key: string]: unknown
}

export const decodeLines = (lines: ReadonlyArray<string>): Array<TraceLine> =>
  lines.map((line) => {
    const r = decodeTraceLine(line)
    if (Result.isFailure(r)) throw new Error(`trace line does not decode: ${line}\n${r.failure.message}`)
    return r.success
  })

export const flatten = (line: TraceLine): FlatEvent => {
  const { ev } = line
  if (ev.type === "sim") return { t: line.t, ...(line.host === undefined ? {} : { host: line.host }), kind: ev.kind, ...ev.data }
  return {
    t: line.t,
    ...(line.host === undefined ? {} : { host: line.host }),
    ...(line.peer === undefined ? {} : { peer: line.peer.addr }),
    ...(line.dir === undefined ? {} : { dir: line.dir }),
    ...ev,
    kind: ev.type
  }
}

/** The client events of one type (`ev.type`, not `sim`), every line decoded first. */
export const eventsOf = (lines: ReadonlyArray<string>, type: string): Array<FlatEvent> =>
  decodeLines(lines).filter((l) => l.ev.type === type && type !== "sim").map(flatten)

/** The simulation's own events of one kind (`sim` lines), every line decoded first. */
export const simEventsOf = (lines: ReadonlyArray<string>, kind: string): Array<FlatEvent> =>
  decodeLines(lines).filter((l) => l.ev.type === "sim" && l.ev.kind === kind).map(flatten)
