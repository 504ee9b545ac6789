/**
 * The CLI's logger: every warning or error a command logs is ONE line on stderr,
 * `warning: <what>: <cause>`, like the failure line of errors.ts. A cause attached to the
 * log (a failed close, a stopped loop) is reduced to its first error's message; its stack
 * trace and the full Effect cause are printed only with `--verbose`.
 */
import { Cause, Logger, Result } from "effect"
import { describeError } from "./errors.ts"
import { oneLine } from "./format.ts"
import { logLine } from "./run-messages.ts"

/** `--verbose` anywhere on the command line: full causes with stack traces in logs and failures. */
export const VERBOSE_FLAG = "--verbose"

/** The cause in one line: its first failure, else its first defect; undefined when it holds neither. */
export const causeLine = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.findError(cause)
  if (Result.isSuccess(failure)) return describeError(failure.success)
  const defect = Cause.findDefect(cause)
  if (Result.isSuccess(defect)) return `internal error: ${describeError(defect.success)}`
  return undefined
}

/** Formats one log entry: the line to print (plus, when verbose, the pretty cause below it). */
export const formatLogLine = (
  options: { readonly logLevel: string; readonly message: unknown; readonly cause: Cause.Cause<unknown> },
  verbose: boolean
): string => {
  const reason = options.cause.reasons.length > 0 ? causeLine(options.cause) : undefined
  const line = logLine(options.logLevel, options.message) + (reason === undefined ? "" : `: ${oneLine(reason)}`)
  return verbose && options.cause.reasons.length > 0 ? `${line}\n${Cause.pretty(options.cause)}` : line
}

/** The logger every command runs with (stdout stays for results and JSON lines). */
export const cliLogger = (verbose: boolean) =>
  Logger.layer([
    Logger.make((options) => {
      process.stderr.write(`${formatLogLine(options, verbose)}\n`)
    })
  ])
