/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per
 * area of the code, as Markdown.
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [TOP]
 *
 * Self time of a node = the sum of the time deltas of the samples taken in it. Functions
 * are keyed by name + url + line, so two closures with the same name stay apart.
 */
import { readFileSync } from "node:fs"
import { relative } from "node:path"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
}
interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface SelfTime {
  readonly label: string
  readonly micros: number
  readonly share: number
}

export interface ProfileSummary {
  readonly totalMicros: number
  readonly functions: ReadonlyArray<SelfTime>
  readonly areas: ReadonlyArray<SelfTime>
  /** Coarse split: our code, the Effect runtime, Node + V8, GC, idle. */
  readonly groups: ReadonlyArray<SelfTime>
}

const repoRoot = new URL("..", import.meta.url).pathname

const shortUrl = (url: string): string => {
  if (url === "") return ""
  const path = url.startsWith("file://") ? new URL(url).pathname : url
  return path.startsWith("/") ? relative(repoRoot, path) : path
}

/** Which part of the stack a frame belongs to: our folders, a package, Node, or V8's pseudo-frames. */
const areaOf = (frame: CallFrame): string => {
  const url = shortUrl(frame.url)
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native / V8 builtins)"
  if (url.startsWith("node:")) return "node: internals"
  const ours = /^src\/([^/]+)\//.exec(url)
  if (ours !== null) return `src/${ours[1]}`
  // Effect is split by module (internal/effect, Stream, Queue, ...): that is where its time goes.
  const effect = /node_modules\/effect\/(?:dist\/(?:esm\/)?|src\/)?(.+)\.[jt]s$/.exec(url)
  if (effect?.[1] !== undefined) return `effect/${effect[1]}`
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (pkg?.[1] !== undefined) return pkg[1]
  if (url.startsWith("wasm://")) return "wasm (Node's TypeScript stripper at start-up)"
  return url
}

const groupOf = (area: string): string =>
  area.startsWith("src/") ? "our code (src/)"
  : area.startsWith("effect/") ? "Effect runtime and modules (effect/*)"
  : area === "node: internals" || area === "(native / V8 builtins)" || area === "(program)" ? "Node internals, V8 builtins, (program)"
  : area.startsWith("(") ? area
  : "other (packages, start-up)"

const rank = (totals: Map<string, number>, total: number): Array<SelfTime> =>
  [...totals].map(([label, micros]) => ({ label, micros, share: total === 0 ? 0 : micros / total }))
    .sort((a, b) => b.micros - a.micros)

export const summarizeProfile = (profile: CpuProfile): ProfileSummary => {
  const byId = new Map<number, CallFrame>()
  for (const node of profile.nodes) byId.set(node.id, node.callFrame)
  const functions = new Map<string, number>()
  const areas = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0
    const frame = byId.get(id)
    if (frame === undefined || delta <= 0) return
    total += delta
    const url = shortUrl(frame.url)
    const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
    const key = url === "" ? name : `${name} ${url}:${frame.lineNumber + 1}`
    functions.set(key, (functions.get(key) ?? 0) + delta)
    const area = areaOf(frame)
    areas.set(area, (areas.get(area) ?? 0) + delta)
  })
  const groups = new Map<string, number>()
  for (const [area, micros] of areas) groups.set(groupOf(area), (groups.get(groupOf(area)) ?? 0) + micros)
  return { totalMicros: total, functions: rank(functions, total), areas: rank(areas, total), groups: rank(groups, total) }
}

export const readProfile = (path: string): CpuProfile => JSON.parse(readFileSync(path, "utf8")) as CpuProfile

const table = (title: string, rows: ReadonlyArray<SelfTime>): string =>
  [
    `| ${title} | self ms | self % |`,
    "|---|---:|---:|",
    ...rows.map((r) => `| \`${r.label.replaceAll("|", "\\|")}\` | ${(r.micros / 1000).toFixed(0)} | ${(r.share * 100).toFixed(1)} |`)
  ].join("\n")

export const formatSummary = (summary: ProfileSummary, top = 25): string =>
  [
    `Sampled ${(summary.totalMicros / 1e6).toFixed(2)} s of the main thread.`,
    "",
    table("group", summary.groups),
    "",
    table("area (by file / package)", summary.areas.slice(0, 15)),
    "",
    table(`top ${top} functions by self time`, summary.functions.slice(0, top))
  ].join("\n")

if (import.meta.main) {
  const [path, top] = process.argv.slice(2)
  if (path === undefined) {
    console.error("usage: node bench/profile-summary.ts FILE.cpuprofile [TOP]")
    process.exit(2)
  }
  console.log(formatSummary(summarizeProfile(readProfile(path)), top === undefined ? 25 : Number(top)))
}
