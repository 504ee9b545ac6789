/** Builders for synthetic torrents with real hashes (tests only). */
import { type Encodable, encode, keyFromBytes } from "../src/bencode/index.ts"
import { filePieceLayer, fileMerkleRoot } from "../src/metainfo/index.ts"
import { sha1 } from "../src/bytes.ts"


export const piecesOf = (payload: Uint8Array, pieceLength: number): Uint8Array => {
  const n = Math.ceil(payload.length / pieceLength)
  const out = new Uint8Array(20 * n)
  for (let i = 0; i < n; i++) out.set(sha1(payload.subarray(i * pieceLength, (i + 1) * pieceLength)), 20 * i)
  return out
}

/** Deterministic pseudo-random content. */
export const content = (length: number, seed: number): Uint8Array => {
  const out = new Uint8Array(length)
  let x = seed * 2654435761 + 1
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

export const torrent = (info: Record<string, Encodable | undefined>, top: Record<string, Encodable | undefined> = {}) =>
  encode({ announce: "http://tracker.test/announce", ...top, info })

export const singleInfo = (length = 40000, pieceLength = 16384, extra: Record<string, Encodable | undefined> = {}) => ({
  name: "file.bin",
  "piece length": pieceLength,
  length,
  pieces: piecesOf(content(length, 1), pieceLength),
  ...extra
})

export const multiInfo = (
  files: ReadonlyArray<{ path: ReadonlyArray<string>; length: number; attr?: string }>,
  pieceLength = 16384,
  extra: Record<string, Encodable | undefined> = {}
) => {
  const total = files.reduce((n, f) => n + f.length, 0)
  return {
    name: "dir",
    "piece length": pieceLength,
    files: files.map((f) => ({ length: f.length, path: [...f.path], attr: f.attr })),
    pieces: piecesOf(content(total, 2), pieceLength),
    ...extra
  }
}

export interface V2File {
  readonly path: ReadonlyArray<string>
  readonly data: Uint8Array
}

/** BEP 52 file tree + piece layers for real data; `hybrid` adds the v1 view with pad files. */
export const v2Torrent = (files: ReadonlyArray<V2File>, pieceLength: number, hybrid: boolean, name = "root") => {
  const tree: Record<string, Encodable> = {}
  const layers: Record<string, Encodable> = {}
  for (const f of files) {
    let node = tree
    for (const c of f.path.slice(0, -1)) {
      const next = (node[c] ??= {}) as Record<string, Encodable>
      node = next
    }
    const root = f.data.length > 0 ? fileMerkleRoot(f.data, pieceLength) : undefined
    node[f.path[f.path.length - 1] ?? ""] = { "": { length: f.data.length, "pieces root": root } }
    if (root !== undefined && f.data.length > pieceLength) layers[keyFromBytes(root)] = filePieceLayer(f.data, pieceLength)
  }
  const info: Record<string, Encodable> = { name, "piece length": pieceLength, "meta version": 2, "file tree": tree }
  if (hybrid) {
    // BEP 52 order = file tree order = sorted paths; pad every non-last file to a piece boundary
    const sorted = [...files].sort((a, b) => cmp(a.path, b.path))
    const list: Array<Encodable> = []
    const parts: Array<Uint8Array> = []
    sorted.forEach((f, i) => {
      list.push({ length: f.data.length, path: [...f.path] })
      parts.push(f.data)
      const pad = (pieceLength - (f.data.length % pieceLength)) % pieceLength
      if (pad > 0 && i < sorted.length - 1 && f.data.length > 0) {
        list.push({ attr: "p", length: pad, path: [".pad", String(pad)] })
        parts.push(new Uint8Array(pad))
      }
    })
    const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      payload.set(p, at)
      at += p.length
    }
    info["files"] = list
    info["pieces"] = piecesOf(payload, pieceLength)
  }
  return { info, layers }
}

const cmp = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): number => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] ?? ""
    const y = b[i] ?? ""
    if (x !== y) return x < y ? -1 : 1
  }
  return a.length - b.length
}
