/**
 * The `simulate` child loads Effect with `node:async_hooks` hidden (src/cli/relaunch.ts
 * `hideAsyncHooks` says why). Effect 4.1 has no switch for its per-suspension `AsyncResource`;
 * it looks the module up once, when it loads, and runs without one where there is none (a
 * browser). This checks that the workaround still does what it is for — no `effect/Fiber`
 * async resources once Effect was loaded with it, and some without it — so an Effect upgrade
 * that looks the module up another way fails here instead of silently costing the simulation
 * its 12-22 % again. Each case is a fresh Node process: Effect must be loaded for the first time.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const relaunch = fileURLToPath(new URL("../src/cli/relaunch.ts", import.meta.url))

/** Loads Effect in a fresh process (hiding async_hooks or not), runs fibers that suspend, counts effect/Fiber resources. */
const fiberResources = (hide: boolean): number => {
  const script = `
    import { createHook } from "node:async_hooks"
    const { hideAsyncHooks } = await import(${JSON.stringify(relaunch)})
    const restore = ${hide ? "hideAsyncHooks()" : "undefined"}
    const { Effect } = await import("effect")
    restore?.()
    let fibers = 0
    createHook({ init(_id, type) { if (type === "effect/Fiber") fibers++ } }).enable()
    await Effect.runPromise(Effect.forEach([1, 2, 3], () => Effect.yieldNow, { concurrency: "unbounded" }))
    // the real getBuiltinModule is back for everything loaded afterwards
    if (process.getBuiltinModule("node:async_hooks")?.AsyncResource === undefined) throw new Error("not restored")
    process.stdout.write(String(fibers))
  `
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
  assert.strictEqual(child.status, 0, child.stderr)
  return Number(child.stdout)
}

describe("simulate child: Effect without async context tracking", () => {
  it("Effect loaded with async_hooks hidden makes no effect/Fiber resources; loaded normally it does", () => {
    assert.isAbove(fiberResources(false), 0, "Effect no longer makes an AsyncResource per suspension: hideAsyncHooks can go")
    assert.strictEqual(fiberResources(true), 0)
  })
})
