/**
 * `simulate` runs in a child process with large semi-spaces.
 *
 * A simulation is the opposite case of a download: every message in flight lives for a
 * virtual link latency, long enough to survive a small young generation, so small
 * semi-spaces promote most of it and the old generation collects it later (measured, real
 * time: 1000 peers x 1 MiB 47.8 s with 16 MB semi-spaces, 43 s with 64, 36.8 s with 128,
 * 35.2 s with 256; 50 x 64 MiB 9.3 s with 64, 8.8 s with 128, 9.5 s with 256, which costs
 * 300 MB more RSS than 64). V8 fixes the size at start-up, hence a child.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** Runs the executable at `entryUrl` again with the same arguments in a child, and exits as it does. */
export const relaunchSimulation = (entryUrl: string): void => {
  const child = spawn(process.execPath, ["--max-semi-space-size=128", fileURLToPath(entryUrl), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, EFFECT_TORRENT_SIMULATE_CHILD: "1" }
  })
  // Ctrl-C in a terminal reaches both processes; a signal sent to this one alone is passed on.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal))
  child.on("error", (error) => {
    process.stderr.write(`error: effect-torrent: ${error.message}\n`)
    process.exit(1)
  })
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (signal === "SIGINT" ? 2 : 15))))
}

/**
 * For the simulation child, while it loads Effect: hides `node:async_hooks` from
 * `process.getBuiltinModule`; returns the function that shows it again.
 *
 * Effect 4.1 looks `AsyncResource` up once, when it loads, and if it finds it creates one at
 * every fiber suspension and enters it at every resumption (`internal/effect.js`,
 * `captureAsyncContext`), so that Node's AsyncLocalStorage follows fibers. A simulation
 * suspends and resumes fibers millions of times, on its own virtual-time scheduler, and
 * nothing in it reads AsyncLocalStorage. Measured (50 leechers x 16 MiB, `--seed 1`, two
 * A/B pairs, CPU of the process): 15.3 / 15.9 s with it, 13.4 / 12.4 s without; the trace is
 * the same byte for byte (the order fibers run in does not depend on it).
 *
 * Why this and not a setting: Effect 4.1 has none (no flag, no layer; `internal/effect.ts`
 * reads `process.getBuiltinModule("node:async_hooks")` once, in a try, and runs without
 * async context where the module is missing, as in a browser), so hiding the module selects
 * Effect's own supported path. It is confined to the simulation child (nothing else runs in
 * that process), bin.ts imports nothing that loads Effect before it, and the real function is
 * back as soon as Effect has loaded. test/sim-async-context.test.ts checks in fresh processes
 * that it still removes the per-suspension resources, so an Effect upgrade that looks the
 * module up another way fails there rather than silently.
 */
export const hideAsyncHooks = (): (() => void) => {
  const original = process.getBuiltinModule
  process.getBuiltinModule = function(this: typeof process, id: string) {
    return id === "node:async_hooks" || id === "async_hooks" ? undefined : original.call(this, id)
  } as typeof process.getBuiltinModule
  return () => {
    process.getBuiltinModule = original
  }
}
