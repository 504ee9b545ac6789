/**
 * A real HTTP server for web seed tests (node:http on 127.0.0.1, keep-alive on, as any web
 * server): serves the files under `root` with single-range support, in several behaviours
 * chosen by the first path segment:
 *
 * - `/good/…`: correct bytes, 206 with `Content-Range` for a Range request, 200 otherwise;
 * - `/corrupt/…`: the same, with one byte in every 4 KiB flipped;
 * - `/busy/…`: always 503 with `Retry-After: 1`;
 * - `/badrange/…`: 206 with a `Content-Range` one byte off;
 * - `/redirect/…`: 302 to the same path under `/good/`;
 * - `/bep17?info_hash=…&piece=N[&ranges=a-b]`: BEP 17 over the torrent's payload (`payload`
 *   set), the first `busyFirst` requests answered 503 with the seconds to wait as the body.
 *
 * Every request is recorded (path and Range header) for the tests to inspect.
 */
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { open } from "node:fs/promises"
import { join, normalize } from "node:path"
import type { AddressInfo } from "node:net"

export interface SeenRequest {
  readonly mode: string
  readonly path: string
  readonly range: string | undefined
  readonly status: number
  readonly bytes: number
}

export interface WebSeedServer {
  readonly base: string
  readonly requests: ReadonlyArray<SeenRequest>
  /** BEP 17: the payload (files concatenated) and piece length it serves. */
  setPayload: (payload: Uint8Array, pieceLength: number, busyFirst?: number) => void
}

const readRange = async (file: string, start: number, length: number): Promise<Buffer> => {
  const handle = await open(file, "r")
  try {
    const out = Buffer.alloc(length)
    let at = 0
    while (at < length) {
      const { bytesRead } = await handle.read(out, at, length - at, start + at)
      if (bytesRead === 0) break
      at += bytesRead
    }
    return out.subarray(0, at)
  } finally {
    await handle.close()
  }
}

export const startWebSeedServer = (root: string) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ server: ReturnType<typeof createServer>; state: WebSeedServer & { requests: Array<SeenRequest> } }>((resolve) => {
        let payload: { data: Uint8Array; pieceLength: number; busy: number } | undefined
        const requests: Array<SeenRequest> = []
        const reply = (req: IncomingMessage, res: ServerResponse, mode: string, path: string, status: number, headers: Record<string, string | number>, body: Uint8Array | string) => {
          requests.push({ mode, path, range: req.headers.range, status, bytes: typeof body === "string" ? Buffer.byteLength(body) : body.length })
          res.writeHead(status, { ...headers, "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.length })
          res.end(body)
        }
        const handle = async (req: IncomingMessage, res: ServerResponse) => {
          const url = new URL(req.url ?? "/", "http://localhost")
          const [, mode = "", ...rest] = url.pathname.split("/")
          const path = rest.map(decodeURIComponent).join("/")
          if (mode === "bep17") return bep17(req, res, url)
          if (mode === "busy") return reply(req, res, mode, path, 503, { "retry-after": "1" }, "busy")
          if (mode === "redirect") {
            requests.push({ mode, path, range: req.headers.range, status: 302, bytes: 0 })
            res.writeHead(302, { location: `/good/${rest.join("/")}`, "content-length": 0 })
            return res.end()
          }
          const file = normalize(join(root, path))
          if (!file.startsWith(normalize(root))) return reply(req, res, mode, path, 403, {}, "")
          let size: number
          try {
            const handle = await open(file, "r")
            size = (await handle.stat()).size
            await handle.close()
          } catch {
            return reply(req, res, mode, path, 404, {}, "not found")
          }
          const m = /^bytes=(\d+)-(\d+)?$/.exec(req.headers.range ?? "")
          const start = m === null ? 0 : Number(m[1])
          const end = m === null ? size - 1 : Math.min(size - 1, m[2] === undefined ? size - 1 : Number(m[2]))
          if (start > end) return reply(req, res, mode, path, 416, { "content-range": `bytes */${size}` }, "")
          const body = await readRange(file, start, end - start + 1)
          if (mode === "corrupt") for (let i = 0; i < body.length; i += 4096) body[i] = (body[i] ?? 0) ^ 0xff
          if (m === null) return reply(req, res, mode, path, 200, {}, body)
          const shown = mode === "badrange" ? `bytes ${start + 1}-${end + 1}/${size}` : `bytes ${start}-${end}/${size}`
          return reply(req, res, mode, path, 206, { "content-range": shown }, body)
        }
        const bep17 = (req: IncomingMessage, res: ServerResponse, url: URL) => {
          if (payload === undefined) return reply(req, res, "bep17", "", 404, {}, "")
          if (payload.busy > 0) {
            payload.busy--
            return reply(req, res, "bep17", url.search, 503, {}, "1")
          }
          const piece = Number(url.searchParams.get("piece"))
          const start = piece * payload.pieceLength
          const size = Math.min(payload.pieceLength, payload.data.length - start)
          const ranges = url.searchParams.get("ranges")
          const [a, b] = ranges === null ? [0, size - 1] : ranges.split("-").map(Number)
          return reply(req, res, "bep17", url.search, 200, {}, payload.data.subarray(start + (a ?? 0), start + (b ?? 0) + 1))
        }
        const server = createServer({ keepAlive: true }, (req, res) => {
          handle(req, res).catch(() => res.destroy())
        })
        server.listen(0, "127.0.0.1", () => {
          const port = (server.address() as AddressInfo).port
          resolve({
            server,
            state: {
              base: `http://127.0.0.1:${port}`,
              requests,
              setPayload: (data, pieceLength, busyFirst = 0) => {
                payload = { data, pieceLength, busy: busyFirst }
              }
            }
          })
        })
      })
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ state }) => state as WebSeedServer))
