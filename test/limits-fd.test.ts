/**
 * Resource limits (issue 19): under `ulimit -n 64`, with 300 candidate peers that answer the
 * handshake and hold the connection, and one real seeder, the CLI derives its connection
 * budget from the limit (/proc/self/limits), never dies on EMFILE, and completes the
 * download byte-identical. Plus the pure budget arithmetic.
 */
import { describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert } from "vitest"
import { Result } from "effect"
import { parseMetainfoResult } from "../src/metainfo/index.ts"
import { encodeHandshake } from "../src/wire/index.ts"
import { listeningPort } from "./support/proc.ts"
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
  // Peers that answer the handshake and then hold the connection, saying nothing: each one
  // the client keeps is a descriptor it keeps. 300 of them can use up 64 descriptors many
  // times over, so a client that dials as many as its peer limit (50 a torrent, 200 in
  // all) hits EMFILE, and then its own files cannot open; one that sizes its budget by the
  // limit leaves room for them. (Measured without the budget: this download fails.)
  it("300 candidate peers that accept and hold: the download completes without EMFILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "et-fd-"))
    // Eight files: each is opened when its first block arrives, so the client needs new
    // descriptors all through the download, not only at the start
    const files = Array.from({ length: 8 }, (_, i) => ({ name: `part-${i}.bin`, bytes: randomBytes(75_000) }))
    mkdirSync(join(dir, "data"))
    for (const f of files) writeFileSync(join(dir, "data", f.name), f.bytes)
    assert.strictEqual((await run(process.execPath, [BIN, "create", join(dir, "data"), "-o", join(dir, "data.torrent")])).code, 0)
    const infoHash = parseTorrent(readFileSync(join(dir, "data.torrent")))
    // The seeder: a plain process, no limit, slow enough that the download is still going
    // when the holders have been dialled
    const seeder = spawn(process.execPath, [BIN, "seed", join(dir, "data.torrent"), "--data", dir, "--port", "0", "--upload-limit", "20k", ...NO_NETWORK], { stdio: ["ignore", "ignore", "pipe"] })
    const seederReady = new Promise<void>((resolve) => {
      let err = ""
      seeder.stderr.setEncoding("utf8").on("data", (d: string) => {
        err += d
        if (/seeding/i.test(err)) resolve()
      })
    })
    const held: Array<Socket> = []
    const holders = Array.from({ length: 300 }, () => createServer((s) => holdPeer(s, infoHash, held)))
    const holderPorts = await Promise.all(holders.map(listen))
    try {
      await seederReady
      const seederPort = listeningPort(seeder.pid ?? 0)
      const peers = [`127.0.0.1:${seederPort}`, ...holderPorts.map((p) => `127.0.0.1:${p}`)]
      const out = join(dir, "out")
      const cmd = [process.execPath, BIN, "download", join(dir, "data.torrent"), "--out", out, "--port", "0", ...NO_NETWORK, ...peers.flatMap((p) => ["--peer", p])]
      const r = await run("bash", ["-c", 'ulimit -n 64 && exec "$@"', "bash", ...cmd])
      console.log(`ulimit -n 64: the client completed handshakes with ${held.length} of the 300 holders`)
      // it went up to its budget (24 connections under 64 descriptors, the seeder one of them)
      assert.isAtLeast(held.length, 20, "the client connected to holders")
      assert.notMatch(r.stderr, /EMFILE|too many open files/i, r.stderr)
      assert.strictEqual(r.code, 0, r.stderr)
      for (const f of files) assert.isTrue(Buffer.compare(readFileSync(join(out, "data", f.name)), f.bytes) === 0, `${f.name} byte-identical`)
    } finally {
      const seederExited = new Promise<void>((resolve) => seeder.exitCode !== null ? resolve() : seeder.on("exit", () => resolve()))
      seeder.kill("SIGTERM")
      await seederExited
      for (const s of held) s.destroy()
      for (const s of holders) s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})

/** The info-hash of a .torrent file's bytes (SHA-1 of its bencoded info dictionary). */
const parseTorrent = (bytes: Uint8Array): Uint8Array => {
  const parsed = parseMetainfoResult(bytes)
  if (!Result.isSuccess(parsed) || parsed.success.infoHash === null) throw new Error("not a v1 torrent")
  return parsed.success.infoHash
}

/**
 * A peer that answers a plaintext handshake for `infoHash` and then holds the connection
 * without a word. An MSE opening is closed at once (the client then retries in plaintext).
 */
const holdPeer = (socket: Socket, infoHash: Uint8Array, held: Array<Socket>) => {
  socket.on("error", () => {})
  let seen = Buffer.alloc(0)
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk])
    if (seen[0] !== 19) return void socket.destroy()
    if (seen.length < 68) return
    socket.off("data", onData)
    socket.write(encodeHandshake({ infoHash, peerId: randomBytes(20) }))
    held.push(socket)
  }
  socket.on("data", onData)
}
