/**
 * What the launcher needs to know about the command line before anything heavy loads:
 * which subcommand runs, and whether this Node can run the client at all. Plain
 * functions on strings, no imports: bin.ts runs this on any Node, old ones included.
 */

/** The oldest Node the client runs on; package.json's `engines` says the same (a test checks). */
export const MIN_NODE = "22.19"

/**
 * One line saying what is needed when `version` (`process.versions.node`) is older than
 * MIN_NODE; undefined when it is recent enough.
 */
export const nodeVersionProblem = (version: string): string | undefined => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  const [minMajor = 0, minMinor = 0] = MIN_NODE.split(".").map(Number)
  if (major > minMajor || (major === minMajor && minor >= minMinor)) return undefined
  return `error: effect-torrent needs Node.js ${MIN_NODE} or newer, this is Node.js v${version}; install a current Node.js (https://nodejs.org) and run it again`
}

/** effect/cli's global flags that take a value (`--log-level debug`, `--completions bash`). */
const FLAGS_WITH_VALUE = new Set(["--log-level", "--completions"])
/** Global flags, anywhere on the line, that need every subcommand loaded (a completion script describes them all). */
const NEEDS_ALL = new Set(["--completions", "--wizard"])

/**
 * The subcommand `args` (argv after the script) names, if it is one of `names`: the first
 * argument that is neither a flag nor a global flag's value. Undefined when there is none,
 * when it is unknown (the parser then lists them all) or when the run needs all of them.
 */
export const subcommandOf = <Name extends string>(args: ReadonlyArray<string>, names: ReadonlyArray<Name>): Name | undefined => {
  if (args.some((arg) => NEEDS_ALL.has(arg.split("=", 1)[0] ?? arg))) return undefined
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (arg.startsWith("-")) {
      if (FLAGS_WITH_VALUE.has(arg)) i++
      continue
    }
    return names.find((name) => name === arg)
  }
  return undefined
}
