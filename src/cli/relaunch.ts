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
