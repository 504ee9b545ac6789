/**
 * `effect-torrent serve` as a user runs it: the real executable (bin/effect-torrent.js) in
 * a child process, on 127.0.0.1 only, no DHT; and transmission-remote, a real Transmission
 * RPC client from Debian, pointed at it.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { InteropError, type Spawned, spawnProcess } from "./process.ts"

// The executable the package ships (npm ci builds it through `prepare`; after editing src, `npm run build`).
const BIN = fileURLToPath(new URL("../../../dist/cli/effect-torrent.js", import.meta.url))
export const TRANSMISSION_REMOTE = "/usr/bin/transmission-remote"

export interface ServeProcess {
  readonly proc: Spawned
  /** http://127.0.0.1:PORT */
  readonly url: string
  readonly token: string
  /** host:port, as transmission-remote takes it. */
  readonly hostPort: string
  readonly api: <A = unknown>(path: string, init?: RequestInit) => Effect.Effect<A, InteropError>
}

export const serveProcess = (options: { readonly state: string; readonly out: string }) =>
  Effect.gen(function*() {
    const proc = yield* spawnProcess("effect-torrent serve", process.execPath, [
      BIN, "serve", "--http", "127.0.0.1:0", "--state", options.state, "--out", options.out, "--port", "0", "--peer-host", "127.0.0.1", "--no-dht"
    ])
    const [url, token] = yield* proc.waitFor("its address and token", () => {
      const url = /serving (http:\/\/[^/\s]+)\//.exec(proc.output())?.[1]
      const token = /API token: (\S+)/.exec(proc.output())?.[1]
      return url === undefined || token === undefined ? undefined : [url, token] as const
    }, "60 seconds")
    const serve: ServeProcess = {
      proc,
      url,
      token,
      hostPort: url.replace(/^http:\/\//, ""),
      api: <A>(path: string, init: RequestInit = {}) =>
        Effect.tryPromise({
          try: async () => {
            const res = await fetch(`${url}${path}`, { ...init, headers: { "x-effect-torrent-token": token, ...(init.headers as Record<string, string> | undefined) } })
            if (!res.ok) throw new Error(`${res.status} ${await res.text()}`)
            return (await res.json()) as A
          },
          catch: (e) => new InteropError({ detail: `${path}: ${String(e)}` })
        })
    }
    return serve
  })

/** Runs transmission-remote against the daemon; its stdout. */
export const transmissionRemote = (hostPort: string, args: ReadonlyArray<string>) =>
  Effect.callback<string, InteropError>((resume) => {
    execFile(TRANSMISSION_REMOTE, [hostPort, ...args], { timeout: 30_000, env: { ...process.env, LANG: "C" } }, (error, stdout, stderr) => {
      if (error !== null) resume(Effect.fail(new InteropError({ detail: `transmission-remote ${args.join(" ")}: ${error.message}\n${stderr}` })))
      else resume(Effect.succeed(stdout))
    })
  })
