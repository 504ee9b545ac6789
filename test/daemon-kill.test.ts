/**
 * Crash consistency of the daemon's state (issue 19): the built CLI's `serve` is killed
 * with SIGKILL (by its PID) in the middle of an `add` and of a `remove`, at the moment its
 * state directory changes (the k-th file event for that torrent, seen through fs.watch, so
 * the kill lands at every step of the write sequence in turn). Restarted on the same state
 * directory each time, it loads without crashing and the torrent is either fully there
 * (listed, its .torrent and record on disk) or fully gone (not listed, neither file left).
 */
import { describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "vitest"

const BUILT = join(import.meta.dirname, "..", "dist", "cli", "effect-torrent.js")
const SOURCE = join(import.meta.dirname, "..", "src", "cli", "bin.ts")

interface Daemon {
  readonly child: ChildProcess
  readonly url: string
  readonly token: string
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.on("exit", () => resolve())))

/** Starts `serve` on the state directory; resolves once it prints its URL and token (rejects if it exits first). */
const serve = (state: string) =>
  new Promise<Daemon>((resolve, reject) => {
    const child = spawn(process.execPath, [BUILT, "serve", "--state", state, "--http", "127.0.0.1:0", "--port", "0", "--peer-host", "127.0.0.1", "--no-dht", "--no-lsd"], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d))
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const url = /serving (http:\/\/\S+?)\/? /.exec(out)?.[1]
      const token = /API token: (\S+)/.exec(out)?.[1]
      if (url !== undefined && token !== undefined) resolve({ child, url, token })
    })
    child.on("exit", (code, signal) => reject(new Error(`serve exited (${code ?? signal}) before it was ready: ${out}${err}`)))
  })

const api = (d: Daemon, path: string, init: RequestInit = {}) =>
  fetch(`${d.url}${path}`, { ...init, headers: { "x-effect-torrent-token": d.token, "content-type": "application/json" } })

const listed = async (d: Daemon): Promise<ReadonlyArray<string>> => {
  const res = await api(d, "/api/torrents")
  assert.strictEqual(res.status, 200, await res.clone().text())
  return ((await res.json()) as ReadonlyArray<{ readonly infoHash: string }>).map((t) => t.infoHash)
}

/**
 * Sends `request` and kills the daemon with SIGKILL at the `k`-th change in its torrents
 * directory that concerns `hash`. Resolves whether the kill happened (a request that
 * ends with fewer changes is let finish; the daemon is killed after it then).
 */
const killDuring = async (d: Daemon, state: string, hash: string, k: number, request: () => Promise<unknown>) => {
  let seen = 0
  let killed = false
  const watcher = watch(join(state, "torrents"), (_event, file) => {
    if (killed || file === null || !file.includes(hash)) return
    seen++
    if (seen >= k && d.child.pid !== undefined) {
      killed = true
      process.kill(d.child.pid, "SIGKILL")
    }
  })
  try {
    await request().catch(() => undefined) // the connection dies with the daemon
    if (!killed && d.child.pid !== undefined) process.kill(d.child.pid, "SIGKILL")
    await exited(d.child)
  } finally {
    watcher.close()
  }
  return { killedAt: killed ? seen : null }
}

/** Fully there or fully gone: listed with both files, or neither listed nor on disk. */
const assertConsistent = (state: string, hash: string, isListed: boolean, what: string) => {
  const torrentFile = existsSync(join(state, "torrents", `${hash}.torrent`))
  const record = existsSync(join(state, "torrents", `${hash}.json`))
  if (isListed) assert.isTrue(torrentFile && record, `${what}: listed, so its .torrent and record are there (${torrentFile}, ${record})`)
  else assert.isTrue(!torrentFile && !record, `${what}: not listed, so nothing of it is left (${torrentFile}, ${record})`)
}

describe("SIGKILL during add and remove in the daemon", () => {
  it("after every kill the state loads and each torrent is fully there or fully gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), "et-kill-"))
    const state = join(dir, "state")
    const outcomes: Array<string> = []
    try {
      writeFileSync(join(dir, "data.bin"), randomBytes(100_000))
      const created = spawn(process.execPath, [SOURCE, "create", join(dir, "data.bin"), "-o", join(dir, "data.torrent")], { stdio: "ignore" })
      await exited(created)
      assert.strictEqual(created.exitCode, 0)
      const torrent = readFileSync(join(dir, "data.torrent")).toString("base64")
      let daemon = await serve(state)
      const add = () => api(daemon, "/api/torrents", { method: "POST", body: JSON.stringify({ torrent, paused: true }) })
      // Learn the hash with a first, undisturbed add, then remove it
      const first = await add()
      assert.strictEqual(first.status, 201, await first.clone().text())
      const hash = ((await first.json()) as { readonly infoHash: string }).infoHash
      assert.strictEqual((await api(daemon, `/api/torrents/${hash}`, { method: "DELETE" })).status < 300, true)
      assert.deepStrictEqual(await listed(daemon), [])
      for (const k of [1, 2, 3, 4, 5, 6]) {
        for (const op of ["add", "remove"] as const) {
          // Bring the torrent into the state the operation starts from
          const there = (await listed(daemon)).includes(hash)
          if (op === "add" && there) await api(daemon, `/api/torrents/${hash}`, { method: "DELETE" })
          if (op === "remove" && !there) assert.strictEqual((await add()).status, 201)
          const request = op === "add" ? add : () => api(daemon, `/api/torrents/${hash}`, { method: "DELETE" })
          const { killedAt } = await killDuring(daemon, state, hash, k, request)
          daemon = await serve(state)
          const isListed = (await listed(daemon)).includes(hash)
          const what = `${op}, killed at change ${killedAt ?? "none (after the request)"}`
          assertConsistent(state, hash, isListed, what)
          outcomes.push(`${what}: ${isListed ? "there" : "gone"}`)
        }
      }
      console.log(`SIGKILL during add/remove, then restart:\n  ${outcomes.join("\n  ")}`)
      // The kills did land inside both operations' writes
      assert.isTrue(outcomes.some((o) => /^add, killed at change \d/.test(o)), outcomes.join("; "))
      assert.isTrue(outcomes.some((o) => /^remove, killed at change \d/.test(o)), outcomes.join("; "))
      daemon.child.kill("SIGTERM")
      await exited(daemon.child)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})
