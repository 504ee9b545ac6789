/**
 * Resource limits (issue 19): under `ulimit -n 64`, with 300 candidate peers (200 refusing,
 * 100 accepting and never answering) and one real seeder, the CLI derives its connection
 * budget from the limit (/proc/self/limits), never dies on EMFILE, and completes the
 * download byte-identical. Plus the pure budget arithmetic.
 */
import { describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "vitest"
import { FD_RESERVE, fitToFdLimit, parseOpenFileLimit, readOpenFileLimit } from "../src/client/fd-budget.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")
const NO_NETWORK = ["--no-dht", "--no-lsd"]

describe("the connection budget follows the open-file limit", () => {
  it("reads the soft limit from /proc/self/limits", () => {
    const text = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            64                   524288               files     \n"
    assert.strictEqual(parseOpenFileLimit(text), 64)
    assert.strictEqual(parseOpenFileLimit("Max open files            unlimited            unlimited            files"), null)
    assert.strictEqual(parseOpenFileLimit(""), null)
    const mine = readOpenFileLimit()
    assert.isTrue(mine === null || mine > 0)
  })

  it("leaves the defaults alone under usual limits and shrinks them under tight ones", () => {
    const wanted = { maxPeers: 200, maxHalfOpen: 20 }
    assert.deepStrictEqual(fitToFdLimit(wanted, null), wanted)
    assert.deepStrictEqual(fitToFdLimit(wanted, 1024), wanted)
    const tight = fitToFdLimit(wanted, 64)
    assert.isAtMost(tight.maxPeers + FD_RESERVE, 64)
    assert.isAtLeast(tight.maxPeers, 1)
    assert.isAtMost(tight.maxHalfOpen, tight.maxPeers)
    assert.deepStrictEqual(fitToFdLimit(wanted, 10), { maxPeers: 1, maxHalfOpen: 1 })
  })
})

const run = (command: string, args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("exit", (code) => resolve({ code: code ?? -1, stderr }))
  })

const listen = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => {
    const a = server.address()
    resolve(typeof a === "object" && a !== null ? a.port : 0)
  }))

describe("ulimit -n 64", () => {
  it("300 candidate peers, most dead or silent: the download completes without EMFILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "et-fd-"))
    const payload = randomBytes(600_000)
    writeFileSync(join(dir, "data.bin"), payload)
    assert.strictEqual((await run(process.execPath, [BIN, "create", join(dir, "data.bin"), "-o", join(dir, "data.torrent")])).code, 0)
    // The seeder: a plain process, no limit
    const seeder = spawn(process.execPath, [BIN, "seed", join(dir, "data.torrent"), "--data", dir, "--port", "0", ...NO_NETWORK], { stdio: ["ignore", "ignore", "pipe"] })
    const seederReady = new Promise<void>((resolve) => {
      let err = ""
      seeder.stderr.setEncoding("utf8").on("data", (d: string) => {
        err += d
        if (/seeding/i.test(err)) resolve()
      })
    })
    // 100 peers that accept and never say a word; 200 ports where nobody listens
    const held: Array<Socket> = []
    const silent = Array.from({ length: 100 }, () => createServer((s) => void held.push(s)))
    const silentPorts = await Promise.all(silent.map(listen))
    const refusing: Array<number> = []
    for (let i = 0; i < 200; i++) {
      const probe = createServer()
      refusing.push(await listen(probe))
      await new Promise<void>((resolve) => probe.close(() => resolve()))
    }
    try {
      await seederReady
      const seederPort = listeningPort(seeder.pid ?? 0)
      // The one real peer among them, a third of the way in (after 100 dead ones)
      const dead = [...refusing.map((p) => `127.0.0.1:${p}`), ...silentPorts.map((p) => `127.0.0.1:${p}`)]
        .sort((a, b) => (a.length * 7919 + a.charCodeAt(a.length - 1)) % 13 - (b.length * 7919 + b.charCodeAt(b.length - 1)) % 13)
      const peers = [...dead.slice(0, 100), `127.0.0.1:${seederPort}`, ...dead.slice(100)]
      const out = join(dir, "out")
      const cmd = [process.execPath, BIN, "download", join(dir, "data.torrent"), "--out", out, "--port", "0", ...NO_NETWORK, ...peers.flatMap((p) => ["--peer", p])]
      const r = await run("bash", ["-c", 'ulimit -n 64 && exec "$@"', "bash", ...cmd])
      assert.notMatch(r.stderr, /EMFILE|too many open files/i, r.stderr)
      assert.strictEqual(r.code, 0, r.stderr)
      assert.isTrue(Buffer.compare(readFileSync(join(out, "data.bin")), payload) === 0, "byte-identical")
    } finally {
      seeder.kill("SIGTERM")
      for (const s of held) s.destroy()
      for (const s of silent) s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})

/** A process's TCP listening port, from /proc (the seed command prints none). */
const listeningPort = (pid: number): number => {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const m = /socket:\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`, { encoding: "utf8" }))
    if (m?.[1] !== undefined) inodes.add(m[1])
  }
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[3] === "0A" && inodes.has(f[9] ?? "")) return parseInt((f[1] ?? "").split(":")[1] ?? "0", 16)
    }
  }
  throw new Error(`no listening socket for pid ${pid}`)
}
