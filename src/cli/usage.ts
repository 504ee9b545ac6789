/**
 * How a wrong command line is answered: the error first, then one line of usage and where
 * the full help is (effect/cli's default prints the whole help page and the error last,
 * where a newcomer looking at the top of 30 lines never sees it). `--help` is unchanged.
 */
import { Console, Effect } from "effect"
import { CliOutput } from "effect/cli"
import { oneLine } from "./format.ts"

/** The lines for an invalid invocation of `commandPath` with `usage` (effect/cli's usage line). Pure. */
export const usageErrorLines = (
  messages: ReadonlyArray<string>,
  usage: string,
  commandPath: ReadonlyArray<string>
): ReadonlyArray<string> => [
  ...messages.map((m) => `error: ${oneLine(m)}`),
  `usage: ${usage}`,
  `(${[...commandPath, "--help"].join(" ")} lists ${commandPath.length <= 1 ? "the commands" : "every flag"})`
]

export const usagePresenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(usageErrorLines(event.errors.map((e) => e.message), event.helpDoc.usage, event.commandPath).join("\n"))
      : CliOutput.defaultPresenter.present(event)
})

export const withUsagePresenter = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provide(effect, usagePresenter)
