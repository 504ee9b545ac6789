/**
 * Connections the process can afford under its open-file limit (`ulimit -n`). Every peer
 * connection and every connection attempt holds a descriptor, and so do Node itself (stdio,
 * epoll, the hashing workers), the listeners, the UDP socket and the torrents' files. With
 * the default limits (1024 and up) nothing changes; under a tight one the client asks for
 * fewer peers instead of failing with EMFILE.
 */
import { readFileSync } from "node:fs"

/** Descriptors kept for everything but peer connections (measured: ~25 in a running client). */
export const FD_RESERVE = 32

export interface ConnectionLimits {
  readonly maxPeers: number
  readonly maxHalfOpen: number
}

/** The limits to use under `openFileLimit` (null: unknown, the wanted ones stand). Pure. */
export const fitToFdLimit = (wanted: ConnectionLimits, openFileLimit: number | null): ConnectionLimits => {
  if (openFileLimit === null || !Number.isFinite(openFileLimit)) return wanted
  // Three quarters of what is left: files opened by storage and short-lived sockets (trackers, web seeds) need room too
  const affordable = Math.max(1, Math.floor(((openFileLimit - FD_RESERVE) * 3) / 4))
  const maxPeers = Math.min(wanted.maxPeers, affordable)
  return { maxPeers, maxHalfOpen: Math.max(1, Math.min(wanted.maxHalfOpen, Math.ceil(maxPeers / 2))) }
}

/** The soft limit on open files from /proc/self/limits ("Max open files"), or null where there is none to read. */
export const readOpenFileLimit = (limits = "/proc/self/limits"): number | null => {
  try {
    return parseOpenFileLimit(readFileSync(limits, "utf8"))
  } catch {
    return null
  }
}

/** The soft "Max open files" of a /proc/<pid>/limits text; null for "unlimited" or when absent. Pure. */
export const parseOpenFileLimit = (text: string): number | null => {
  const line = text.split("\n").find((l) => l.startsWith("Max open files"))
  const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0]
  return soft === undefined || !/^\d+$/.test(soft) ? null : Number(soft)
}
