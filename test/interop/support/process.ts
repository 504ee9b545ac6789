/**
 * Reference clients as child processes owned by a Scope: started by the test, stopped
 * by their own PID (SIGTERM, then SIGKILL) when the scope closes. Never by name.
 */
import { Duration, Effect, Schema, type Scope } from "effect"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync } from "node:fs"

export class InteropError extends Schema.TaggedError<InteropError>()("InteropError", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

export interface Spawned {
  readonly name: string
  readonly pid: number
  /** Everything written so far, stdout and stderr interleaved, `\r` turned into newlines. */
  readonly output: () => string
  /** Complete stdout lines so far. */
  readonly lines: () => ReadonlyArray<string>
  /** The exit code (or the signal's name), once the process ended. */
  readonly exited: () => number | string | null
  /** Polls `find` until it returns a value; fails on timeout or if the process dies first. */
  readonly waitFor: <A>(what: string, find: () => A | undefined, timeout: Duration.Input) => Effect.Effect<A, InteropError>
  /** Waits for the process to end by itself. */
  readonly waitExit: (timeout: Duration.Input) => Effect.Effect<number | string, InteropError>
}

const tail = (text: string, lines = 40) => text.split("\n").slice(-lines).join("\n")

const stop = (child: ChildProcess, exited: () => boolean) =>
  Effect.gen(function*() {
    if (exited()) return
    child.kill("SIGTERM")
    for (let i = 0; i < 100 && !exited(); i++) yield* Effect.sleep("50 millis")
    if (exited()) return
    child.kill("SIGKILL")
    for (let i = 0; i < 100 && !exited(); i++) yield* Effect.sleep("50 millis")
  })

/** Starts `command`; the process is stopped when the current scope closes. */
export const spawnProcess = (
  name: string,
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: Record<string, string> } = {}
): Effect.Effect<Spawned, InteropError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const child = spawn(command, [...args], {
          cwd: options.cwd,
          env: { ...process.env, LANG: "C", ...options.env },
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        let stdoutRest = ""
        const lines: Array<string> = []
        let code: number | string | null = null
        let spawnError: string | null = null
        child.stdout?.on("data", (chunk: Buffer) => {
          const text = chunk.toString("utf8")
          output += text.replaceAll("\r", "\n")
          stdoutRest += text
          const parts = stdoutRest.split(/\r?\n|\r/)
          stdoutRest = parts.pop() ?? ""
          lines.push(...parts)
        })
        child.stderr?.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8").replaceAll("\r", "\n")
        })
        child.on("error", (e) => {
          spawnError = e.message
          code ??= "spawn-error"
        })
        child.on("exit", (c, signal) => {
          code = c ?? signal ?? "unknown"
        })
        const pid = child.pid ?? -1
        const describe = () => `${name} (pid ${pid})`
        const died = (what: string) =>
          new InteropError({
            detail: `${describe()} exited (${String(code)}${spawnError === null ? "" : `: ${spawnError}`}) while waiting for ${what}; last output:\n${tail(output)}`
          })
        const waitFor = <A>(what: string, find: () => A | undefined, timeout: Duration.Input) =>
          Effect.gen(function*() {
            while (true) {
              const found = find()
              if (found !== undefined) return found
              if (code !== null) return yield* died(what)
              yield* Effect.sleep("50 millis")
            }
          }).pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(new InteropError({
                  detail: `${describe()}: no ${what} within ${Duration.format(Duration.fromInputUnsafe(timeout))}; last output:\n${tail(output)}`
                }))
            })
          )
        const spawned: Spawned & { readonly child: ChildProcess; readonly isDone: () => boolean } = {
          name,
          pid,
          child,
          isDone: () => code !== null,
          output: () => output,
          lines: () => lines,
          exited: () => code,
          waitFor,
          waitExit: (timeout) =>
            Effect.gen(function*() {
              while (code === null) yield* Effect.sleep("50 millis")
              return code
            }).pipe(
              Effect.timeoutOrElse({
                duration: timeout,
                orElse: () =>
                  Effect.fail(new InteropError({
                    detail: `${describe()} did not exit within ${Duration.format(Duration.fromInputUnsafe(timeout))}; last output:\n${tail(output)}`
                  }))
              })
            )
        }
        return spawned
      },
      catch: (e) => new InteropError({ detail: `${name}: cannot start ${command}: ${String(e)}` })
    }),
    (p) => stop(p.child, p.isDone)
  )

/** True when `path` exists (the Debian package's binary). */
export const hasBinary = (path: string): boolean => existsSync(path)

/** True when Debian's python3 can import libtorrent. */
export const hasPythonLibtorrent = (): boolean =>
  existsSync("/usr/bin/python3") &&
  spawnSync("/usr/bin/python3", ["-c", "import libtorrent"], { stdio: "ignore" }).status === 0
