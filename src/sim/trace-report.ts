/**
 * Any trace (docs/TRACE.md) as the HTML report's input: a real run's from `download --trace`
 * or the daemon, or a simulation's. `effect-torrent trace FILE --report out.html` uses it.
 *
 * Details: times become ms since the trace's first line. The torrent's size and piece length
 * come from its `start` line. Each recording client is a host (a real run's is "local", a
 * leecher; a simulation's hosts keep their names and roles); the peers a real run talked to
 * are hosts too (role "peer"), so the report shows what each of them uploaded to us against
 * what it downloaded from us. Bytes are counted from `Piece` lines, so a trace recorded
 * without wire messages shows no bytes.
 */
import type { TraceLine } from "../trace/schema.ts"
import { runEventsOf } from "./report.ts"
import type { ReportInput, RunHost } from "./report-model.ts"

/** A simulation's host names say their role (`seed-0`, `leecher-3`, `corrupt-1`). */
const roleOf = (host: string): string => /^([a-z]+)-\d+$/.exec(host)?.[1] ?? "leecher"

export const reportInputOfTrace = (lines: ReadonlyArray<TraceLine>, title: string): ReportInput | string => {
  const start = lines.find((l) => l.ev.type === "start")
  if (start === undefined || start.ev.type !== "start" || start.ev.size === undefined || start.ev.pieceLength === undefined) {
    return "no start line with the torrent's size and piece length"
  }
  const origin = lines[0]?.t ?? 0
  const hosts = new Map<string, { role: string; uploaded: number; downloaded: number }>()
  const hostOf = (name: string, role: string) => {
    let h = hosts.get(name)
    if (h === undefined) {
      h = { role, uploaded: 0, downloaded: 0 }
      hosts.set(name, h)
    }
    return h
  }
  const real = lines.every((l) => l.host === undefined)
  for (const l of lines) {
    const self = hostOf(l.host ?? "local", l.host === undefined ? "leecher" : roleOf(l.host))
    if (l.ev.type !== "Piece" || l.dir === undefined) continue
    const length = l.ev.length
    if (l.dir === "in") self.downloaded += length
    else self.uploaded += length
    // in a simulation the other side is a host with its own lines; in a real run it is a peer
    if (real && l.peer !== undefined) {
      const peer = hostOf(l.peer.addr, "peer")
      if (l.dir === "in") peer.uploaded += length
      else peer.downloaded += length
    }
  }
  const runHosts: Array<RunHost> = [...hosts].map(([name, h]) => ({ name, role: h.role, uploaded: h.uploaded, downloaded: h.downloaded }))
  const events = runEventsOf(lines).map((e) => ({ ...e, t: e.t - origin }))
  const facts: Array<readonly [string, string]> = [
    ...(start.ev.name === undefined ? [] : [["torrent", start.ev.name] as const]),
    ["clock", start.ev.clock],
    ["lines", String(lines.length)]
  ]
  return {
    title,
    size: start.ev.size,
    pieceLength: start.ev.pieceLength,
    hosts: runHosts,
    events,
    facts,
    endMs: (lines.at(-1)?.t ?? origin) - origin
  }
}
