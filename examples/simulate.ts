// A swarm of the real client on the simulated network, in virtual time.
// Run: node examples/simulate.ts
import { Console, Effect } from "effect"
import { runScenario, summarize } from "../src/sim/index.ts"

const program = Effect.gen(function*() {
  const report = yield* runScenario({
    seed: 42,
    torrent: { size: 8 * 1024 * 1024, pieceLength: 256 * 1024 },
    seeds: 1,
    leechers: 10,
    corruptPeers: 1,
    network: { latencyMs: 50, uploadBps: 4 * 1024 * 1024 }
  })
  const summary = summarize(report)
  yield* Console.log(`${summary.completed}/${summary.leechers} complete, ${summary.bans} bans, ${(summary.seedShare * 100).toFixed(1)}% from seeds`)
})

Effect.runPromise(program).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
