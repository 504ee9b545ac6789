/**
 * Resource limits (issue 19): 1,000 simultaneous incoming connections against a seeding
 * CLI on 127.0.0.1, each sending a BitTorrent handshake for its torrent. Each one is
 * served (our handshake comes back) or refused cleanly (closed); none is left hanging. The
 * seeder's resident memory stays bounded (sampled from /proc and reported), and its
 * listener keeps working: a real download from it afterwards completes byte-identical.
 */
import { describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { connect, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Result } from "effect"
import { assert } from "vitest"
import { parseMetainfoResult } from "../src/metainfo/index.ts"
import { encodeHandshake } from "../src/wire/index.ts"
import { listeningPort, rssOf } from "./support/proc.ts"

const BIN = join(import.meta.dirname, "..", "src", "cli", "bin.ts")
const NO_NETWORK = ["--no-dht", "--no-lsd"]
const CONNECTIONS = 1000
const MiB = 1024 * 1024
/** What "bounded" means here: a seeder holding 1,000 sockets for a moment stays well under this. */
const RSS_LIMIT = 400 * MiB

const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    child.on("exit", (code) => resolve({ code: code ?? -1, stderr }))
  })

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.on("exit", () => resolve())))

type Outcome = "served" | "closed"

/**
 * One incoming connection: sends our handshake and resolves "served" once the peer's
 * handshake for the same torrent is back (the socket stays open, holding its slot), or
 * "closed" when the peer closes or resets it first.
 */
const knock = (port: number, infoHash: Uint8Array, sockets: Array<Socket>) =>
  new Promise<Outcome>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port })
    sockets.push(socket)
    let seen = Buffer.alloc(0)
    socket.on("connect", () => socket.write(encodeHandshake({ infoHash, peerId: randomBytes(20) })))
    socket.on("data", (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk])
      if (seen.length < 48) return
      const protocol = seen.subarray(1, 20).toString("latin1")
      if (seen[0] === 19 && protocol === "BitTorrent protocol" && Buffer.compare(seen.subarray(28, 48), infoHash) === 0) resolve("served")
      else socket.destroy(new Error(`not a handshake for our torrent: ${seen.subarray(0, 48).toString("hex")}`))
    })
    socket.on("error", () => {})
    socket.on("close", () => resolve("closed"))
  })

describe("1,000 simultaneous incoming connections", () => {
  it("each is served or refused cleanly, memory stays bounded, the listener keeps working", async () => {
    const dir = mkdtempSync(join(tmpdir(), "et-conn-"))
    const payload = randomBytes(2_000_000)
    writeFileSync(join(dir, "data.bin"), payload)
    assert.strictEqual((await run(["create", join(dir, "data.bin"), "-o", join(dir, "data.torrent")])).code, 0)
    const parsed = parseMetainfoResult(readFileSync(join(dir, "data.torrent")))
    if (!Result.isSuccess(parsed) || parsed.success.infoHash === null) throw new Error("not a v1 torrent")
    const infoHash = parsed.success.infoHash
    const seeder = spawn(process.execPath, [BIN, "seed", join(dir, "data.torrent"), "--data", dir, "--port", "0", ...NO_NETWORK], { stdio: ["ignore", "ignore", "pipe"] })
    let seederErr = ""
    const seederReady = new Promise<void>((resolve) => {
      seeder.stderr.setEncoding("utf8").on("data", (d: string) => {
        seederErr += d
        if (/seeding/i.test(seederErr)) resolve()
      })
    })
    const sockets: Array<Socket> = []
    let peakRss = 0
    // A measurement, not a wait: the peak resident memory while the connections are open
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(seeder.pid ?? 0) ?? 0)), 20)
    try {
      await seederReady
      const pid = seeder.pid ?? 0
      const port = listeningPort(pid)
      const idleRss = rssOf(pid) ?? 0
      const outcomes = await Promise.all(Array.from({ length: CONNECTIONS }, () => knock(port, infoHash, sockets)))
      peakRss = Math.max(peakRss, rssOf(pid) ?? 0)
      for (const s of sockets) s.destroy()
      const served = outcomes.filter((o) => o === "served").length
      const closed = outcomes.filter((o) => o === "closed").length
      console.log(
        `${CONNECTIONS} connections at once: ${served} served, ${closed} refused (closed); seeder RSS ${(idleRss / MiB).toFixed(1)} MiB idle, ${(peakRss / MiB).toFixed(1)} MiB peak`
      )
      assert.strictEqual(served + closed, CONNECTIONS)
      assert.isAtLeast(served, 1, "some connections are served")
      assert.isAtLeast(closed, 1, "beyond its limits the seeder refuses")
      assert.isBelow(peakRss, RSS_LIMIT, "resident memory stays bounded")
      assert.strictEqual(seeder.exitCode, null, `the seeder is still up: ${seederErr}`)
      // The listener still works: a real download from it
      const out = join(dir, "out")
      const r = await run(["download", join(dir, "data.torrent"), "--out", out, "--port", "0", ...NO_NETWORK, "--peer", `127.0.0.1:${port}`])
      assert.strictEqual(r.code, 0, r.stderr)
      assert.isTrue(Buffer.compare(readFileSync(join(out, "data.bin")), payload) === 0, "byte-identical")
    } finally {
      clearInterval(sampler)
      for (const s of sockets) s.destroy()
      seeder.kill("SIGTERM")
      await exited(seeder)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})
