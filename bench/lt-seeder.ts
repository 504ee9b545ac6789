/**
 * The python3-libtorrent seeder the benches download from (bench/ltbench.py `seed`), and the
 * CPU a live process has used, read from /proc. Shared by bench/run.ts and bench/growth.ts.
 */
import { execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"

const benchDir = new URL(".", import.meta.url).pathname
export const python = "/usr/bin/python3"
export const ltbench = join(benchDir, "ltbench.py")

/** CPU seconds (user + system) a live process has used so far, from /proc/PID/stat. */
export const processCpuSeconds = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
}

export interface SeederOptions {
  readonly torrent: string
  /** Where the payload is (libtorrent's save_path). */
  readonly dataDir: string
  readonly transport: string
  /** RC4 forced both ways (ltbench.py --force-encryption). */
  readonly forceEncryption?: boolean
  /**
   * Skip libtorrent's start-up hash check (ltbench.py --seed-mode): it still hashes each
   * piece before it first sends it. For payloads too large to check first (the growth bench).
   */
  readonly seedMode?: boolean
}

export interface Seeder {
  readonly pid: number
  readonly port: number
  readonly stop: () => Promise<void>
}

/** Starts a libtorrent seeder on 127.0.0.1; resolves once it seeds, with its pid and port. */
export const startSeeder = (options: SeederOptions) =>
  new Promise<Seeder>((resolve, reject) => {
    const args = [
      ltbench, "seed", options.torrent, options.dataDir, options.transport,
      ...(options.forceEncryption === true ? ["--force-encryption"] : []),
      ...(options.seedMode === true ? ["--seed-mode"] : [])
    ]
    const child = spawn(python, args, { stdio: ["ignore", "pipe", "inherit"] })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGTERM")
      await exited
    }
    child.once("exit", (code) => reject(new Error(`seeder exited early (${code})`)))
    createInterface({ input: child.stdout }).on("line", (line) => {
      const match = /^PORT (\d+)$/.exec(line)
      if (match?.[1] !== undefined && child.pid !== undefined) resolve({ pid: child.pid, port: Number(match[1]), stop })
    })
  })
