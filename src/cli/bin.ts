#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * The `effect-torrent` executable (bundled to dist/cli/effect-torrent.js; `npm run cli`
 * runs this source). It must work on any Node, so it only checks the version, then loads
 * the command line lazily: nothing else is imported at the top of this file.
 *
 * --max-semi-space-size=8: V8's young generation otherwise grows to ~100 MB during a
 * fast download (measured: peak RSS 242 -> 201 MB on a 256 MiB transfer); the client's
 * garbage is short-lived block bookkeeping that small semi-spaces collect cheaply. 8, not 4:
 * with 4 MB more of it lived through two scavenges and was promoted, and the old generation
 * grew with the download's length (peak anon, 1 GiB then 16 GiB from a libtorrent seeder:
 * 88/144 and 89/128 MiB with 4; 90/113 and 90/112 with 8; rate and CPU unchanged, issue 15).
 */
import { nodeVersionProblem, subcommandOf } from "./argv.ts"

const problem = nodeVersionProblem(process.versions.node)
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`)
  process.exitCode = 1
} else if (subcommandOf(process.argv.slice(2), ["simulate"]) !== undefined && process.env["EFFECT_TORRENT_SIMULATE_CHILD"] === undefined) {
  const { relaunchSimulation } = await import("./relaunch.ts")
  relaunchSimulation(import.meta.url)
} else {
  // V8's code cache for the bundle, kept in the OS temp dir (NODE_COMPILE_CACHE moves it,
  // NODE_DISABLE_COMPILE_CACHE=1 turns it off): most of a short command's time is compiling.
  const { enableCompileCache } = await import("node:module")
  enableCompileCache()
  // The simulation child loads Effect without async context tracking (relaunch.ts says why).
  const simulationChild = process.env["EFFECT_TORRENT_SIMULATE_CHILD"] !== undefined && subcommandOf(process.argv.slice(2), ["simulate"]) !== undefined
  const restore = simulationChild ? (await import("./relaunch.ts")).hideAsyncHooks() : undefined
  const { main } = await import("./main.ts")
  restore?.()
  main()
}
