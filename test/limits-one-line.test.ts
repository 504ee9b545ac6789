/**
 * One line per problem (issue 19): every warning or error the CLI prints is one line
 * naming the thing and the cause, without a stack trace unless `--verbose` is given.
 * Real processes (src/cli/bin.ts), real files and real ports: an unreadable .torrent,
 * a port in use, a download directory that vanishes mid-download. (The full disk is
 * tested in disk-full.test.ts, which needs a tmpfs.)
 */
import { describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "vitest"
import { listeningPort } from "./support/proc.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")
const NO_NETWORK = ["--no-dht", "--no-lsd"]

interface Run {
  readonly child: ChildProcess
  readonly stderr: () => string
  readonly exited: Promise<number>
  /** Resolves once stderr matches `pattern`. */
  readonly waitFor: (pattern: RegExp) => Promise<void>
}

const start = (args: ReadonlyArray<string>): Run => {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] })
  let err = ""
  let waiters: Array<{ readonly pattern: RegExp; readonly resolve: () => void }> = []
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d
    const met = waiters.filter((w) => w.pattern.test(err))
    waiters = waiters.filter((w) => !met.includes(w))
    for (const w of met) w.resolve()
  })
  const exited = new Promise<number>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal === null ? -1 : 128))))
  return {
    child,
    stderr: () => err,
    exited,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(err)) return resolve()
        waiters.push({ pattern, resolve })
        void exited.then(() => (pattern.test(err) ? resolve() : reject(new Error(`exited before ${pattern}: ${err}`))))
      })
  }
}

const run = async (args: ReadonlyArray<string>) => {
  const r = start(args)
  const code = await r.exited
  return { code, stderr: r.stderr() }
}

/** The lines a user reads: progress redraws (\r) split off, blank lines dropped. */
const linesOf = (stderr: string) => stderr.split(/[\r\n]+/).filter((l) => l.trim() !== "")

const assertOneLineProblems = (stderr: string) => {
  assert.notMatch(stderr, /^\s+at /m, `no stack trace:\n${stderr}`)
  assert.notInclude(stderr, "level=", "no logfmt dumps")
  const problems = linesOf(stderr).filter((l) => /^(error|warning)\b/i.test(l))
  for (const line of problems) assert.match(line, /^(error|warning): \S.{8,}$/, `a problem line says what went wrong: ${line}`)
  return problems
}

const tempDir = () => mkdtempSync(join(tmpdir(), "et-oneline-"))

describe("one line per problem", () => {
  it("an unreadable .torrent: one error line naming the file, exit 1; --verbose adds the trace", async () => {
    const dir = tempDir()
    const asDirectory = join(dir, "dir.torrent")
    mkdirSync(asDirectory)
    const plain = await run(["info", asDirectory])
    assert.strictEqual(plain.code, 1)
    const problems = assertOneLineProblems(plain.stderr)
    assert.deepStrictEqual(problems.length, 1, plain.stderr)
    assert.include(problems[0], asDirectory)
    // Permission bits stop everyone but root (CI runs as root: then only the directory case counts)
    if (process.getuid?.() !== 0) {
      const locked = join(dir, "locked.torrent")
      writeFileSync(locked, "d4:infod")
      chmodSync(locked, 0)
      const r = await run(["info", locked])
      assert.strictEqual(r.code, 1)
      assert.match(assertOneLineProblems(r.stderr)[0] ?? "", /locked\.torrent: .*permission/i)
    }
    const verbose = await run(["--verbose", "info", asDirectory])
    assert.strictEqual(verbose.code, 1)
    assert.include(verbose.stderr, `error: ${problems[0]?.slice("error: ".length)}`)
    assert.match(verbose.stderr, /^\s+at /m, "--verbose shows where it failed")
    rmSync(dir, { recursive: true, force: true })
  })

  it("a port in use: one error line naming the address, exit 1", async () => {
    const dir = tempDir()
    writeFileSync(join(dir, "data.bin"), randomBytes(50_000))
    const created = await run(["create", join(dir, "data.bin"), "-o", join(dir, "data.torrent")])
    assert.strictEqual(created.code, 0, created.stderr)
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve))
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    const r = await run(["seed", join(dir, "data.torrent"), "--data", dir, "--port", String(port), ...NO_NETWORK])
    server.close()
    assert.strictEqual(r.code, 1)
    const problems = assertOneLineProblems(r.stderr)
    assert.strictEqual(problems.length, 1, r.stderr)
    assert.match(problems[0] ?? "", new RegExp(`${port}.*in use`))
    rmSync(dir, { recursive: true, force: true })
  })

  it("a download directory that vanishes mid-download: the run finishes the file or stops with one line", async () => {
    const dir = tempDir()
    const payload = randomBytes(800_000)
    writeFileSync(join(dir, "data.bin"), payload)
    assert.strictEqual((await run(["create", join(dir, "data.bin"), "-o", join(dir, "data.torrent")])).code, 0)
    const seeder = start(["seed", join(dir, "data.torrent"), "--data", dir, "--port", "0", ...NO_NETWORK])
    try {
      await seeder.waitFor(/seeding/i)
      const port = seederPort(seeder)
      const out = join(dir, "out")
      const leecher = start(["download", join(dir, "data.torrent"), "--out", out, "--port", "0", "--peer", `127.0.0.1:${port}`, "--download-limit", "40k", ...NO_NETWORK])
      await leecher.waitFor(/pieces [1-9]\d*\//)
      rmSync(out, { recursive: true, force: true })
      const code = await leecher.exited
      const problems = assertOneLineProblems(leecher.stderr())
      if (code === 0) {
        // Finished: what it calls complete must be on disk, whole
        assert.isTrue(Buffer.compare(readFileSync(join(out, "data.bin")), payload) === 0, "complete means the whole file is on disk")
      } else {
        assert.strictEqual(code, 1)
        assert.strictEqual(problems.filter((l) => l.startsWith("error:")).length, 1, leecher.stderr())
      }
    } finally {
      seeder.child.kill("SIGTERM")
      await seeder.exited
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** The seeder's listening port: it has none to print, so ask /proc for its TCP listener. */
const seederPort = (seeder: Run): number => listeningPort(seeder.child.pid ?? 0)
