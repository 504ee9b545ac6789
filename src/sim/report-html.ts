/**
 * The run report as one self-contained HTML file: inline CSS and SVG, no script and no
 * network, so it opens anywhere and can be attached to an issue. Hovering a point shows
 * its value (SVG `<title>`).
 *
 * ```ts
 * const html = renderReportHtml(buildReportModel(scenarioReportInput(report, spec)))
 * ```
 */
import type { Point, ReportModel } from "./report-model.ts"

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

const W = 720
const H = 300
const M = { left: 64, right: 16, top: 16, bottom: 44 }
const PW = W - M.left - M.right
const PH = H - M.top - M.bottom

/** Round tick steps (1, 2, 5 × 10^k) giving about `count` ticks up to `max`. */
export const ticks = (max: number, count = 5): ReadonlyArray<number> => {
  if (!(max > 0) || !Number.isFinite(max)) return [0]
  const raw = max / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw
  const out: Array<number> = []
  for (let v = 0; v <= max * 1.0001; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

const label = (v: number) => (Math.abs(v) >= 1e9 ? `${+(v / 1e9).toFixed(1)}G` : Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`)

interface Series {
  readonly name: string
  readonly color: string
  readonly points: ReadonlyArray<Point>
  readonly style: "line" | "step" | "dots"
  /** Hover text per point; default "x, y". */
  readonly titles?: ReadonlyArray<string>
}

interface ChartSpec {
  readonly id: string
  readonly title: string
  readonly xLabel: string
  readonly yLabel: string
  readonly series: ReadonlyArray<Series>
  readonly xMax?: number
  readonly yMax?: number
  /** Vertical marks (e.g. bans) at these x, with hover text. */
  readonly marks?: ReadonlyArray<{ readonly x: number; readonly color: string; readonly title: string }>
  readonly note?: string
}

const fmt = (v: number) => Number(v.toFixed(3)).toString()

const chart = (spec: ChartSpec): string => {
  const all = spec.series.flatMap((s) => s.points)
  const xMax = spec.xMax ?? Math.max(1e-9, ...all.map((p) => p[0]), ...(spec.marks ?? []).map((m) => m.x))
  const yMax = spec.yMax ?? Math.max(1e-9, ...all.map((p) => p[1])) * 1.05
  const x = (v: number) => M.left + (PW * v) / xMax
  const y = (v: number) => M.top + PH - (PH * v) / yMax
  const parts: Array<string> = []
  for (const t of ticks(yMax)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${M.left + PW}" y1="${fmt(y(t))}" y2="${fmt(y(t))}"/>`)
    parts.push(`<text class="tick" x="${M.left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${label(t)}</text>`)
  }
  for (const t of ticks(xMax, 8)) {
    parts.push(`<line class="axis" x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${M.top + PH}" y2="${M.top + PH + 4}"/>`)
    parts.push(`<text class="tick" x="${fmt(x(t))}" y="${M.top + PH + 16}" text-anchor="middle">${label(t)}</text>`)
  }
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left + PW}" y1="${M.top + PH}" y2="${M.top + PH}"/>`)
  parts.push(`<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${M.top + PH}"/>`)
  parts.push(`<text class="label" x="${M.left + PW / 2}" y="${H - 6}" text-anchor="middle">${escape(spec.xLabel)}</text>`)
  parts.push(`<text class="label" transform="translate(14 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle">${escape(spec.yLabel)}</text>`)
  for (const m of spec.marks ?? []) {
    parts.push(`<line class="mark" stroke="${m.color}" x1="${fmt(x(m.x))}" x2="${fmt(x(m.x))}" y1="${M.top}" y2="${M.top + PH}"><title>${escape(m.title)}</title></line>`)
  }
  for (const s of spec.series) {
    if (s.style === "dots") {
      s.points.forEach((p, i) => {
        const title = s.titles?.[i] ?? `${label(p[0])}, ${label(p[1])}`
        parts.push(`<circle class="dot" cx="${fmt(x(p[0]))}" cy="${fmt(y(p[1]))}" r="3" fill="${s.color}"><title>${escape(title)}</title></circle>`)
      })
      continue
    }
    let d = ""
    s.points.forEach((p, i) => {
      const prev = s.points[i - 1]
      if (i === 0) d += `M${fmt(x(p[0]))},${fmt(y(p[1]))}`
      else if (s.style === "step" && prev !== undefined) d += `H${fmt(x(p[0]))}V${fmt(y(p[1]))}`
      else d += `L${fmt(x(p[0]))},${fmt(y(p[1]))}`
    })
    parts.push(`<path class="series" d="${d}" stroke="${s.color}"><title>${escape(s.name)}</title></path>`)
  }
  const legend = spec.series.length + (spec.marks?.length ? 1 : 0) > 1
    ? `<p class="legend">${spec.series.map((s) => `<span style="color:${s.color}">■</span> ${escape(s.name)}`).join(" ")}</p>`
    : ""
  return `<section class="chart" id="${spec.id}"><h2>${escape(spec.title)}</h2>` +
    `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escape(spec.title)}">${parts.join("")}</svg>` +
    legend + (spec.note === undefined ? "" : `<p class="note">${escape(spec.note)}</p>`) + `</section>`
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:760px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin:28px 0 6px}table{border-collapse:collapse}
td{padding:2px 12px 2px 0}td:first-child{color:#666}
svg{background:#fff;border:1px solid #ddd}.grid{stroke:#eee}.axis{stroke:#888}
.tick{font-size:11px;fill:#555}.label{font-size:12px;fill:#333}
.series{fill:none;stroke-width:1.8}.dot{fill-opacity:.7}.mark{stroke-width:1;stroke-opacity:.6}
.legend,.note{font-size:12px;color:#555;margin:4px 0}`

const ROLE_COLORS: Record<string, string> = { seed: "#2b8a3e", leecher: "#1c7ed6", corrupt: "#e03131", silent: "#868e96" }

/** The whole report page for a model (see report-model.ts). */
export const renderReportHtml = (model: ReportModel): string => {
  const seconds = (ms: number) => ms / 1000
  const endS = seconds(model.endMs)
  const bans = model.incidents.filter((i) => i.kind === "ban")
  const failures = model.incidents.filter((i) => i.kind === "hash-failed")
  const incidentMarks = model.incidents.map((i) => ({
    x: seconds(i.t),
    color: i.kind === "ban" ? "#e03131" : "#f08c00",
    title: `${(i.t / 1000).toFixed(3)} s: ${i.kind} at ${i.host} (${i.peer})`
  }))
  const cumulative = (kind: Incident["kind"]): Array<Point> => {
    const out: Array<Point> = [[0, 0]]
    let n = 0
    for (const i of model.incidents) if (i.kind === kind) out.push([seconds(i.t), ++n])
    out.push([endS, n])
    return out
  }
  const byRole = new Map<string, Array<ReportModel["upDown"][number]>>()
  for (const p of model.upDown) byRole.set(p.role, [...(byRole.get(p.role) ?? []), p])
  const charts = [
    chart({
      id: "completion",
      title: "Completion time (CDF)",
      xLabel: "time (s)",
      yLabel: "share of leechers complete",
      xMax: endS,
      yMax: 1,
      series: [{ name: "leechers complete", color: "#1c7ed6", style: "step", points: model.completion.map(([t, v]) => [seconds(t), v]) }],
      note: `${model.leechers} leechers`
    }),
    chart({
      id: "throughput",
      title: "Swarm throughput (verified data)",
      xLabel: "time (s)",
      yLabel: "MB/s",
      xMax: endS,
      series: [{ name: "MB/s verified", color: "#2b8a3e", style: "line", points: model.throughput.map(([t, v]) => [seconds(t), v]) }]
    }),
    chart({
      id: "availability",
      title: "Piece availability (copies among hosts that are up)",
      xLabel: "time (s)",
      yLabel: "copies",
      xMax: endS,
      series: [
        { name: "rarest piece", color: "#e03131", style: "step", points: model.availabilityMin.map(([t, v]) => [seconds(t), v]) },
        { name: "mean over pieces", color: "#1c7ed6", style: "line", points: model.availabilityMean.map(([t, v]) => [seconds(t), v]) }
      ]
    }),
    chart({
      id: "updown",
      title: "Each peer's upload against its download",
      xLabel: "downloaded (bytes)",
      yLabel: "uploaded (bytes)",
      series: [...byRole].map(([role, peers]) => ({
        name: role,
        color: ROLE_COLORS[role] ?? "#7048e8",
        style: "dots" as const,
        points: peers.map((p) => [p.downloaded, p.uploaded] as const),
        titles: peers.map((p) => `${p.name}: down ${label(p.downloaded)}B, up ${label(p.uploaded)}B`)
      }))
    }),
    chart({
      id: "incidents",
      title: "Bans and hash failures",
      xLabel: "time (s)",
      yLabel: "count so far",
      xMax: endS,
      series: [
        { name: "bans", color: "#e03131", style: "step", points: cumulative("ban") },
        { name: "hash failures", color: "#f08c00", style: "step", points: cumulative("hash-failed") }
      ],
      marks: incidentMarks,
      note: `${bans.length} bans, ${failures.length} hash failures; each is a vertical mark (hover for who and when)`
    })
  ]
  const facts = model.facts.map(([k, v]) => `<tr><td>${escape(k)}</td><td>${escape(v)}</td></tr>`).join("")
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(model.title)}</title>` +
    `<style>${CSS}</style></head><body><h1>${escape(model.title)}</h1><table id="facts">${facts}</table>${charts.join("\n")}</body></html>\n`
}

type Incident = ReportModel["incidents"][number]
