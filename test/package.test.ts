/**
 * The package as a user gets it, outside this repository: `npm pack` (which runs `prepare`,
 * the build), the tarball installed from the registry into an empty project with no dev
 * dependencies, then the installed executable, both entry points from plain JavaScript, a
 * strict TypeScript consumer against the shipped declarations, and an old Node.
 *
 * Needs the npm registry (for `effect` and `@effect/platform-node-shared`); npm's own cache
 * makes a second run faster. Everything else lives in one temp dir, removed at the end.
 */
import { Effect } from "effect"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { MIN_NODE, nodeVersionProblem } from "../src/cli/argv.ts"
import { torrentJson } from "../src/cli/info-render.ts"
import { parseMetainfo } from "../src/metainfo/index.ts"
import { liveWith, requirement } from "./support/requirements.ts"

const ROOT = join(import.meta.dirname, "..")
const FIXTURE = join(ROOT, "fixtures", "conformance", "webtorrent-fixtures", "folder.torrent")

/** What the tarball may hold: the build, the sources its declaration maps point into, and the usual three. */
const ALLOWED = /^(package\.json|README\.md|LICENSE|dist\/.+\.(js|d\.ts|d\.ts\.map)|dist\/cli\/THIRD-PARTY-LICENSES\.txt|src\/.+\.ts)$/
const DEVELOPMENT = /^(test|fixtures|bench|\.ci|scripts|examples|docs|src\/cli)\/|\.test\.ts$|^tsconfig|^vitest|^\.tmp|node_modules/

/** The environment without what `npm test` adds (npm_config_*, npm_lifecycle_*), so the inner npm behaves as a user's. */
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")))

const run = (file: string, args: ReadonlyArray<string>, cwd: string): string =>
  execFileSync(file, args, { cwd, env: cleanEnv(), encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 })

/** Older than MIN_NODE: Debian 12's system Node (v20) on the CI image. */
const OLD_NODE = "/usr/bin/node"
const oldNodeVersion = existsSync(OLD_NODE)
  ? spawnSync(OLD_NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).stdout.trim()
  : ""
const oldNode = requirement(
  oldNodeVersion !== "" && nodeVersionProblem(oldNodeVersion) !== undefined,
  `a Node older than ${MIN_NODE} at ${OLD_NODE}`,
  "Debian's nodejs package; the CI image has v20"
)

describe("the packed tarball, installed into an empty project", () => {
  let dir = ""
  let app = ""
  let files: ReadonlyArray<string> = []
  let installed = ""

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "et-package-"))
    app = join(dir, "app")
    mkdirSync(app)
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", dir], ROOT)) as ReadonlyArray<{
      readonly filename: string
      readonly files: ReadonlyArray<{ readonly path: string }>
    }>
    const tarball = packed[0]
    if (tarball === undefined) throw new Error("npm pack reported no tarball")
    files = tarball.files.map((f) => f.path)
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
    run("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline", join(dir, tarball.filename)], app)
    installed = join(app, "node_modules", "effect-torrent")
  }, 300_000)

  afterAll(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true })
  })

  it("holds the build and nothing from development", () => {
    expect(files.filter((f) => !ALLOWED.test(f) || DEVELOPMENT.test(f))).toEqual([])
    for (const f of ["dist/index.js", "dist/index.d.ts", "dist/index.d.ts.map", "dist/sim/index.js", "dist/sim/index.d.ts", "dist/cli/effect-torrent.js", "LICENSE", "README.md"]) {
      expect(files).toContain(f)
    }
  })

  it("installs one Effect, the application's, and no platform package the client does not use", () => {
    expect(existsSync(join(app, "node_modules", "effect", "package.json"))).toBe(true)
    expect(existsSync(join(installed, "node_modules", "effect"))).toBe(false)
    for (const unused of ["@effect/platform-node", "redis", "undici"]) {
      expect(existsSync(join(app, "node_modules", unused)), unused).toBe(false)
    }
  })

  it("runs the installed executable: info --json on a fixture", () => {
    const out = run(join(app, "node_modules", ".bin", "effect-torrent"), ["info", "--json", FIXTURE], app)
    const expected = Effect.runSync(parseMetainfo(new Uint8Array(readFileSync(FIXTURE))))
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(torrentJson(expected))))
  })

  it("runs through npx, and its bash completion script completes subcommands and flags", () => {
    expect(run("npx", ["--no-install", "effect-torrent", "--version"], app).trim()).toMatch(/^effect-torrent v\d+\.\d+\.\d+/)
    const script = join(dir, "completions.bash")
    writeFileSync(script, run(join(app, "node_modules", ".bin", "effect-torrent"), ["--completions", "bash"], app))
    const complete = (...words: ReadonlyArray<string>) =>
      run("bash", ["-c", [
        `source ${JSON.stringify(script)}`,
        `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length - 1}`,
        `COMP_LINE=${JSON.stringify(words.join(" "))}; COMP_POINT=\${#COMP_LINE}`,
        `_effect_torrent; echo "\${COMPREPLY[*]}"`
      ].join("\n")], app).trim().split(" ")
    expect(complete("effect-torrent", "d")).toEqual(["demo", "download"])
    expect(complete("effect-torrent", "do")).toEqual(["download"])
    expect(complete("effect-torrent", "download", "--seq")).toEqual(["--sequential"])
  })

  it("serves the daemon's API docs, whose script comes from the installed effect", async () => {
    const state = mkdtempSync(join(dir, "state-"))
    const child = spawn(join(app, "node_modules", ".bin", "effect-torrent"), ["serve", "--http", "127.0.0.1:0", "--state", state, "--port", "0", "--no-dht", "--no-lsd"], {
      cwd: app,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"]
    })
    try {
      const base = await new Promise<string>((resolve, reject) => {
        let out = ""
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString()
          const match = /serving (http:\/\/\S+?)\/? /.exec(out)
          if (match?.[1] !== undefined) resolve(match[1])
        })
        child.once("exit", (code) => reject(new Error(`serve exited with ${code}: ${out}`)))
      })
      const response = await fetch(`${base}/api/docs`)
      expect(response.status).toBe(200)
      expect(await response.text()).toContain("createApiReference")
    } finally {
      child.kill("SIGTERM")
      await new Promise((resolve) => child.once("exit", resolve))
    }
  }, 60_000)

  it("imports both entry points from plain JavaScript, and the client runs", () => {
    const script = join(app, "use.mjs")
    writeFileSync(
      script,
      [
        `import { Client, createClient, layerNode, parseMetainfo } from "effect-torrent"`,
        `import { makeWorld, runScenario, SimNetwork } from "effect-torrent/sim"`,
        `for (const [name, value] of Object.entries({ Client, createClient, layerNode, parseMetainfo, makeWorld, runScenario, SimNetwork })) {`,
        `  if (value === undefined) throw new Error(name + " is not exported")`,
        `}`,
        `const client = await createClient({ port: 0, host: "127.0.0.1", downloadDirectory: ${JSON.stringify(dir)} })`,
        `await client.close()`,
        `console.log("ok")`
      ].join("\n")
    )
    expect(run(process.execPath, [script], app).trim()).toBe("ok")
  })

  it("typechecks a strict TypeScript consumer (module nodenext) against the shipped declarations", () => {
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          exactOptionalPropertyTypes: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2024",
          lib: ["es2024", "dom"],
          types: [],
          noEmit: true,
          skipLibCheck: true
        },
        files: ["consumer.ts"]
      })
    )
    writeFileSync(
      join(app, "consumer.ts"),
      [
        `import { Effect } from "effect"`,
        `import { Client, createClient, layerNode, type PromiseClient, type TorrentState } from "effect-torrent"`,
        `import { makeWorld } from "effect-torrent/sim"`,
        ``,
        `const program = Effect.gen(function*() {`,
        `  const client = yield* Client`,
        `  const torrent = yield* client.add({ path: "x.torrent" })`,
        `  yield* torrent.whenComplete`,
        `  return torrent.infoHash`,
        `})`,
        `export const main: Effect.Effect<string, unknown> = program.pipe(Effect.provide(layerNode({ port: 0 })))`,
        `export const promised: Promise<PromiseClient> = createClient({ downloadDirectory: "downloads" })`,
        `export const progress = (s: TorrentState): number => s.progress`,
        `export const world = makeWorld`
      ].join("\n")
    )
    const tsc = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", join(app, "tsconfig.json")], { cwd: app, encoding: "utf8" })
    expect(tsc.stdout + tsc.stderr).toBe("")
    expect(tsc.status).toBe(0)
  })

  liveWith(oldNode)(`on a Node older than ${MIN_NODE}, says in one line what it needs`, () =>
    Effect.sync(() => {
      const bin = realpathSync(join(app, "node_modules", ".bin", "effect-torrent"))
      const result = spawnSync(OLD_NODE, [bin, "info", FIXTURE], { cwd: app, encoding: "utf8" })
      expect(result.status).toBe(1)
      expect(result.stdout).toBe("")
      expect(result.stderr).toBe(`${nodeVersionProblem(oldNodeVersion)}\n`)
    }))
})
