import { describe, expect, it } from "vitest"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { MIN_NODE, nodeVersionProblem, subcommandOf } from "../src/cli/argv.ts"

const NAMES = ["info", "create", "download", "seed", "simulate"] as const

describe("the launcher's view of the command line", () => {
  it("names the minimum Node that package.json's engines names", () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as { engines: { node: string } }
    expect(pkg.engines.node).toBe(`>=${MIN_NODE}`)
  })

  it("accepts Node from the engines range on, and says in one line what an older one needs", () => {
    expect(nodeVersionProblem("22.19.0")).toBeUndefined()
    expect(nodeVersionProblem("22.21.1")).toBeUndefined()
    expect(nodeVersionProblem("24.0.0")).toBeUndefined()
    expect(nodeVersionProblem("100.0.0")).toBeUndefined()
    for (const old of ["22.18.0", "22.9.0", "20.20.2", "18.19.1", "8.0.0"]) {
      const line = nodeVersionProblem(old)
      expect(line).toBe(`error: effect-torrent needs Node.js ${MIN_NODE} or newer, this is Node.js v${old}; install a current Node.js (https://nodejs.org) and run it again`)
    }
  })

  it("finds the subcommand past global flags and their values", () => {
    expect(subcommandOf(["info", "x.torrent"], NAMES)).toBe("info")
    expect(subcommandOf(["--log-level", "info", "download", "x"], NAMES)).toBe("download")
    expect(subcommandOf(["--log-level=debug", "seed", "x"], NAMES)).toBe("seed")
    expect(subcommandOf(["-h", "create"], NAMES)).toBe("create")
    // the first positional decides, whatever follows
    expect(subcommandOf(["download", "--out", "info", "x"], NAMES)).toBe("download")
  })

  it("loads every subcommand for root help, unknown names and completion scripts", () => {
    expect(subcommandOf([], NAMES)).toBeUndefined()
    expect(subcommandOf(["--help"], NAMES)).toBeUndefined()
    expect(subcommandOf(["downlaod", "x"], NAMES)).toBeUndefined()
    expect(subcommandOf(["--completions", "bash"], NAMES)).toBeUndefined()
    expect(subcommandOf(["--completions=zsh", "info"], NAMES)).toBeUndefined()
    expect(subcommandOf(["info", "--completions", "fish"], NAMES)).toBeUndefined()
  })
})
