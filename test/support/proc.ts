/** What /proc says about a process the test started: its listening port, its resident memory. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs"

/** A process's TCP listening port, from /proc (the seed command prints none). */
export const listeningPort = (pid: number): number => {
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

/** Resident memory of a process in bytes (VmRSS), or null once it is gone. */
export const rssOf = (pid: number): number | null => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m?.[1] === undefined ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}

/** Descriptors a process has open, or null once it is gone. */
export const openFdsOf = (pid: number): number | null => {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return null
  }
}
