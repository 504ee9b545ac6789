/**
 * The CLI as a user runs it, from source (src/cli/bin.ts): a real process whose stdout JSON
 * lines are collected; it is killed (by its PID) when the test's scope closes.
 */
import { Deferred, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"
import { eventually } from "./waiting.ts"

export const CLI_SOURCE = join(import.meta.dirname, "..", "..", "src", "cli", "bin.ts")

export interface CliProcess {
  readonly child: ChildProcess
  /** Every complete stdout line so far. */
  readonly lines: Array<string>
  readonly stderr: Array<string>
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Deferred.Deferred<number | null>
}

/**
 * Starts `effect-torrent ARGS`; a command that goes on the network gets `--no-dht --no-lsd`:
 * tests never reach the public DHT, and no multicast leaves loopback.
 */
export const startCli = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const exited = yield* Deferred.make<number | null>()
      const networked = args[0] === "download" || args[0] === "seed"
      const child = spawn(process.execPath, [CLI_SOURCE, ...args, ...(networked ? ["--no-dht", "--no-lsd"] : [])], { stdio: ["ignore", "pipe", "pipe"] })
      const lines: Array<string> = []
      const stderr: Array<string> = []
      let buffer = ""
      child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        buffer += chunk
        const parts = buffer.split("\n")
        buffer = parts.pop() ?? ""
        lines.push(...parts)
      })
      child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk))
      child.on("exit", (code) => Deferred.doneUnsafe(exited, Effect.succeed(code)))
      return { child, lines, stderr, exited } satisfies CliProcess
    }),
    (r) => Effect.sync(() => { if (r.child.exitCode === null && r.child.signalCode === null && r.child.pid !== undefined) process.kill(r.child.pid, "SIGKILL") })
  )

/** Waits until a JSON line satisfies `predicate`; dies if the process ends first. */
export const waitForJsonLine = (r: CliProcess, predicate: (json: Record<string, unknown>) => boolean, what: string) =>
  eventually(
    what,
    Effect.suspend(() => {
      const found = r.lines.map((line) => JSON.parse(line) as Record<string, unknown>).find(predicate)
      if (found === undefined && r.child.exitCode !== null) {
        return Effect.die(new Error(`exited (${r.child.exitCode}) before ${what}: ${r.stderr.join("")}`))
      }
      return Effect.succeed(found)
    }),
    (found) => found !== undefined,
    60
  ).pipe(Effect.flatMap((found) => (found === undefined ? Effect.die(new Error(`no ${what}`)) : Effect.succeed(found))))
