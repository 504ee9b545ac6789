/**
 * Structural rules of src/ (docs/ARCHITECTURE.md, the working agreement): no import cycle,
 * type-only imports included (a cycle of types is still two files that cannot be read
 * apart), and no source file over 400 lines.
 */
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

const SRC = resolve(import.meta.dirname, "../src")
const MAX_LINES = 400

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith(".ts") ? [path] : []
  })

// Every static import/export-from at the start of a line (JSDoc examples start with " *"),
// side-effect imports, and dynamic imports with a literal specifier.
const SPECIFIERS = [
  /^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
  /^import\s*["']([^"']+)["']/gm,
  /\bimport\(\s*["']([^"']+)["']\s*\)/g
]

const importsOf = (file: string, text: string): Array<string> => {
  const found = new Set<string>()
  for (const pattern of SPECIFIERS) {
    for (const match of text.matchAll(pattern)) {
      const specifier = match[1]
      if (specifier !== undefined && specifier.startsWith(".")) found.add(resolve(dirname(file), specifier))
    }
  }
  return [...found]
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
const cycles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<Array<string>> => {
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const out: Array<Array<string>> = []
  const visit = (node: string): void => {
    index.set(node, counter)
    low.set(node, counter)
    counter++
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue
      if (!index.has(next)) {
        visit(next)
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0))
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0))
      }
    }
    if (low.get(node) !== index.get(node)) return
    const component: Array<string> = []
    let member: string | undefined
    do {
      member = stack.pop()
      if (member === undefined) break
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) out.push(component.sort())
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return out
}

const files = sourceFiles(SRC)
const texts = new Map(files.map((f) => [f, readFileSync(f, "utf8")]))
const rel = (f: string) => relative(SRC, f)

describe("src structure", () => {
  it("finds the source files and their imports", () => {
    // The walker itself must see something, or the checks below pass vacuously.
    expect(files.length).toBeGreaterThan(100)
    const session = files.find((f) => f.endsWith("peer/peer-session.ts"))
    expect(session).toBeDefined()
    if (session !== undefined) expect(importsOf(session, texts.get(session) ?? "").map(rel)).toContain("peer/messages.ts")
  })

  it("detects a cycle, type-only imports included", () => {
    const graph = new Map([
      ["/a.ts", importsOf("/a.ts", `import type { B } from "./b.ts"\n`)],
      ["/b.ts", importsOf("/b.ts", `import {\n  c\n} from "./c.ts"\n`)],
      ["/c.ts", importsOf("/c.ts", `export type { A } from "./a.ts"\n`)],
      ["/d.ts", importsOf("/d.ts", ` * import { a } from "./a.ts"\n`)]
    ])
    expect(cycles(graph)).toEqual([["/a.ts", "/b.ts", "/c.ts"]])
  })

  it("has no import cycle in src/", () => {
    const graph = new Map(files.map((f) => [f, importsOf(f, texts.get(f) ?? "")]))
    expect(cycles(graph).map((c) => c.map(rel).join(" -> "))).toEqual([])
  })

  it(`has no source file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ file: rel(f), lines: (texts.get(f) ?? "").split("\n").length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
    expect(long).toEqual([])
  })
})
