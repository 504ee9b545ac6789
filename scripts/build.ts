/**
 * `npm run build` (and `prepare`, so `npm ci` in a fresh clone builds it): what the
 * package ships, in dist/.
 *
 * 1. The library (`effect-torrent` and `effect-torrent/sim`): tsc (tsconfig.build.json)
 *    emits JavaScript, declarations and declaration maps. It imports `effect` (a peer
 *    dependency: the application's own copy) and `@effect/platform-node-shared`.
 * 2. The executable: src/cli/bin.ts bundled by rolldown into dist/cli/effect-torrent.js,
 *    minified, one chunk per subcommand, with Effect inside. Start-up is most of a short
 *    command's time, and a bundle compiles only what the command uses: node loading the
 *    tsc output and `effect` from node_modules answers `info` in ~0.64 s here, this
 *    bundle in a fraction of that (bench/startup.ts measures it). The bundled packages'
 *    licences go to dist/cli/THIRD-PARTY-LICENSES.txt.
 *
 *   node scripts/build.ts
 *
 * Prints only to stderr.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { dirname, join, relative, sep } from "node:path"
import { createRequire } from "node:module"
import { build, type Plugin } from "rolldown"

const root = join(import.meta.dirname, "..")
const dist = join(root, "dist")
const cliDir = join(dist, "cli")

rmSync(dist, { recursive: true, force: true })

const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json")], { stdio: ["ignore", 2, 2] })
if (tsc.status !== 0) {
  console.error(`build: tsc -p tsconfig.build.json exited with ${tsc.status ?? tsc.signal}`)
  process.exit(1)
}

/**
 * Node built-ins the bundle imports but a command rarely calls: node:tls (TLS upgrades in
 * @effect/platform-node-shared's sockets; the client never uses TLS on peer connections)
 * and node:child_process (the spawner effect/cli requires; only `simulate` spawns, and it
 * imports its own). Loading them costs ~40 ms of CPU at start-up (tls builds its secure
 * context machinery); this plugin replaces each with functions that `require` the module
 * on first call. Only functions can be deferred so: importing anything else from these
 * modules fails the build (a missing export) instead of silently loading eagerly.
 */
const LAZY_BUILTINS = ["node:tls", "node:child_process"]
const lazyBuiltins: Plugin = {
  name: "lazy-builtins",
  resolveId: (id) => (LAZY_BUILTINS.includes(id) ? `\0lazy:${id}` : undefined),
  load: (id) => {
    if (!id.startsWith("\0lazy:")) return undefined
    const name = id.slice("\0lazy:".length)
    const exports = createRequire(import.meta.url)(name) as Record<string, unknown>
    const functions = Object.keys(exports).filter((key) =>
      /^[A-Za-z_$][\w$]*$/.test(key) && typeof Object.getOwnPropertyDescriptor(exports, key)?.value === "function"
    )
    return [
      `import { createRequire } from "node:module"`,
      `let loaded`,
      `const load = () => (loaded ??= createRequire(import.meta.url)(${JSON.stringify(name)}))`,
      // Called or constructed: a class is built by the real constructor (`new` on a function
      // returning an object yields that object), so instances are the real thing.
      ...functions.map((key) =>
        `export function ${key}(...args) { return new.target === undefined ? load().${key}.apply(this, args) : new (load().${key})(...args) }`
      )
    ].join("\n")
  }
}

/**
 * Effect's API documentation pages (`HttpApiScalar.layer`, which the daemon mounts at
 * /api/docs; `HttpApiSwagger`) import a bundled copy of their browser script on first use:
 * 3.2 MB for Scalar, half the package. `effect` is installed next to us anyway (a peer
 * dependency), so the bundle reads that asset from the installed `effect` instead of
 * carrying its own copy. The module is a plain string export; its path is found from the
 * public `effect/http-api/...` module beside it.
 */
const EFFECT_DOC_ASSETS = /effect\/dist\/http-api\/internal\/(httpApiScalar|httpApiSwagger)\.js$/
const effectDocAssets: Plugin = {
  name: "effect-doc-assets",
  resolveId: async function(source, importer) {
    if (importer === undefined || !source.startsWith("./internal/httpApi")) return undefined
    const resolved = await this.resolve(source, importer, { skipSelf: true })
    const match = resolved === null ? null : EFFECT_DOC_ASSETS.exec(resolved.id)
    return match === null ? undefined : `\0effect-doc-asset:${match[1]}`
  },
  load: (id) => {
    if (!id.startsWith("\0effect-doc-asset:")) return undefined
    const name = id.slice("\0effect-doc-asset:".length)
    const publicModule = name === "httpApiScalar" ? "effect/http-api/HttpApiScalar" : "effect/http-api/HttpApiSwagger"
    return [
      `const asset = await import(new URL("./internal/${name}.js", import.meta.resolve(${JSON.stringify(publicModule)})).href)`,
      `export const javascript = asset.javascript`,
      `export const css = asset.css`
    ].join("\n")
  }
}

const output = await build({
  input: { "effect-torrent": join(root, "src", "cli", "bin.ts") },
  platform: "node",
  logLevel: "warn",
  plugins: [lazyBuiltins, effectDocAssets],
  output: {
    dir: cliDir,
    format: "esm",
    minify: true,
    entryFileNames: "[name].js",
    chunkFileNames: "chunks/[name]-[hash].js"
  }
})

/** The package a bundled module came from (its nearest package.json under node_modules). */
const packageOf = (id: string): string | undefined => {
  const parts = relative(root, id).split(sep)
  const at = parts.lastIndexOf("node_modules")
  if (at < 0) return undefined
  const name = parts[at + 1]?.startsWith("@") === true ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1]
  return name === undefined ? undefined : join(...parts.slice(0, at + 1), name)
}

const bundled = new Set<string>()
for (const chunk of output.output) {
  if (chunk.type !== "chunk") continue
  for (const id of chunk.moduleIds) {
    const pkg = packageOf(id)
    if (pkg !== undefined) bundled.add(pkg)
  }
}
const notices = [...bundled].sort().map((pkg) => {
  const manifest = JSON.parse(readFileSync(join(root, pkg, "package.json"), "utf8")) as { name: string; version: string; license?: string }
  const licenseFile = ["LICENSE", "LICENSE.md", "license"].map((f) => join(root, pkg, f)).find(existsSync)
  if (licenseFile === undefined) throw new Error(`build: ${manifest.name} is bundled into the CLI but has no LICENSE file`)
  return `${manifest.name}@${manifest.version} (${manifest.license ?? "see below"})\n\n${readFileSync(licenseFile, "utf8").trim()}\n`
})
writeFileSync(
  join(cliDir, "THIRD-PARTY-LICENSES.txt"),
  `dist/cli bundles these packages:\n\n${notices.join(`\n${"-".repeat(72)}\n\n`)}`
)

const files = output.output.filter((o) => o.type === "chunk").length
// stderr: stdout belongs to the caller (`npm pack --json` prints its report there).
console.error(`build: dist/ (library, tsc) and ${relative(root, cliDir)}/ (${files} chunks, bundling ${[...bundled].map((p) => dirname(p) === "node_modules" ? p.slice(13) : p.slice(p.indexOf("node_modules") + 13)).join(", ")})`)
