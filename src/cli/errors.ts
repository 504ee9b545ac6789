/**
 * Error reporting for every command: a failure becomes ONE line on stderr,
 * `error: <subject>: <what went wrong>`, and a non-zero exit code. No stack
 * traces, no Effect cause dumps: commands fail with typed errors whose
 * `message` is already the sentence to show; `describeError` adds a fallback
 * for the few foreign errors (file system, defects).
 */
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import { Cause, Effect, Exit, Result, Runtime, Schema } from "effect"
import { CliError } from "effect/cli"
import type { PlatformError } from "effect/PlatformError"
import { describeFsError } from "../metainfo/create.ts"
import { oneLine } from "./format.ts"

/** A user-facing failure about some input (a path, a URI, a flag value). */
export class CliInputError extends Schema.TaggedError<CliInputError>()("CliInputError", {
  /** What the line is about, e.g. the path; "" when nothing in particular. */
  subject: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return this.subject === "" ? this.detail : `${this.subject}: ${this.detail}`
  }
}

/** Short reason for a file-system failure, without the module/method noise. */
export const describePlatformError: (e: PlatformError) => string = describeFsError

/** Wraps a file-system failure on `path` into a CliInputError. */
export const fsError = (path: string) => (e: PlatformError): CliInputError =>
  new CliInputError({ subject: path, detail: describePlatformError(e) })

const isPlatformError = (u: unknown): u is PlatformError =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "PlatformError" && "reason" in u

/** One line (no newlines, no control characters) describing any error value. */
export const describeError = (error: unknown): string => {
  if (isPlatformError(error)) {
    const where = "pathOrDescriptor" in error.reason ? error.reason.pathOrDescriptor : undefined
    const detail = describePlatformError(error)
    return oneLine(where !== undefined ? `${where}: ${detail}` : detail)
  }
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const message = (error as { readonly message: unknown }).message
    if (typeof message === "string" && message !== "") return oneLine(message.split("\n")[0] ?? message)
  }
  return oneLine(String(error))
}

/**
 * The line to print for a failed run, or undefined when nothing should be
 * printed: interruption (Ctrl-C) and usage errors, which effect/cli has already
 * rendered together with the help text.
 */
export const failureLine = (cause: Cause.Cause<unknown>): string | undefined => {
  if (Cause.hasInterruptsOnly(cause)) return undefined
  const fail = Cause.findError(cause)
  if (Result.isSuccess(fail)) {
    if (CliError.isCliError(fail.success)) {
      return fail.success._tag === "ShowHelp" ? undefined : `error: ${describeError(fail.success)}`
    }
    return `error: ${describeError(fail.success)}`
  }
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `error: internal error: ${describeError(defect.success)}`
  return undefined
}

const writeStderr = (line: string) => Effect.sync(() => void process.stderr.write(`${line}\n`))

/**
 * Exit code for a run ended by SIGTERM. 130 by default (the work was cut short); commands
 * whose normal end IS a signal (a client that seeds until stopped, the daemon) set it to 0
 * once they are up, since a service manager's stop is their orderly path.
 *
 * Ctrl-C (SIGINT) always exits 130, after the same orderly shutdown. 0 could not be
 * promised: run through `sh -c` (npx, npm run) the shell itself ends on the SIGINT the
 * terminal sent it too, and reports 130 whatever the client returned (measured: dash, 0
 * from the client, 130 from npx).
 */
export const interruptExitCode = { value: 130 }

/** The exit code for Ctrl-C, the shells' 128 + SIGINT. */
export const SIGINT_EXIT_CODE = 130

/**
 * Entry point for the CLI: runs `program` (all services provided), prints the
 * failure line if any (and the full cause with `verbose`), and exits 0 on success, 1 on failure, 130 on Ctrl-C,
 * `interruptExitCode` on SIGTERM.
 */
export const runCliMain = <E>(program: Effect.Effect<void, E>, options: { readonly verbose?: boolean } = {}): void => {
  // NodeRuntime interrupts on both signals alike; this remembers which one came.
  let interruptedBy: NodeJS.Signals | undefined
  process.once("SIGINT", () => (interruptedBy ??= "SIGINT"))
  process.once("SIGTERM", () => (interruptedBy ??= "SIGTERM"))
  program.pipe(
    Effect.tapCause((cause) => {
      const line = failureLine(cause)
      if (line === undefined) return Effect.void
      // --verbose: the whole cause, stack traces included, below the one line
      return writeStderr(options.verbose === true ? `${line}\n${Cause.pretty(cause)}` : line)
    }),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      teardown: (exit, onExit) =>
        Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          ? onExit(interruptedBy === "SIGINT" ? SIGINT_EXIT_CODE : interruptExitCode.value)
          : Runtime.defaultTeardown(exit, onExit)
    })
  )
}
