#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point for `npx effect-torrent`. Node >= 22.18 runs the TypeScript sources directly
// (type stripping), and npx/npm put the pinned Node 24 first on PATH.
// --max-semi-space-size=4: V8's young generation otherwise grows to ~100 MB during a
// fast download (measured: peak RSS 242 -> 201 MB on a 256 MiB transfer); the client's
// garbage is short-lived block bookkeeping that small semi-spaces collect cheaply.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

if (process.argv[2] === "simulate" && process.env.EFFECT_TORRENT_SIMULATE_CHILD === undefined) {
  // A simulation is the opposite case: every message in flight lives for a virtual link
  // latency, long enough to survive a small young generation, so small semi-spaces promote
  // most of it and the old generation collects it later (measured, real time: 1000 peers x
  // 1 MiB 47.8 s with 16 MB semi-spaces, 43 s with 64, 36.8 s with 128, 35.2 s with 256;
  // 50 x 64 MiB 9.3 s with 64, 8.8 s with 128, 9.5 s with 256, which costs 300 MB more RSS
  // than 64). V8 fixes the size at start-up, hence a child.
  const self = fileURLToPath(import.meta.url)
  const child = spawn(process.execPath, ["--max-semi-space-size=128", self, ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, EFFECT_TORRENT_SIMULATE_CHILD: "1" }
  })
  // Ctrl-C in a terminal reaches both processes; a signal sent to this one alone is passed on.
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("error", (error) => {
    console.error(`effect-torrent: ${error.message}`)
    process.exit(1)
  })
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 1 : 128 + (signal === "SIGINT" ? 2 : 15))))
} else {
  const { main } = await import("../src/cli/main.ts")
  main()
}
