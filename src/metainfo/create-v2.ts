/**
 * The BEP 52 half of torrent creation (`create --v2`, `create --hybrid`): one pass over the
 * files feeds v1 piece hashes, v2 merkle trees or both, and the v2 parts of the dict are
 * laid out from the result. The merkle primitives live in merkle.ts.
 */
import { type Encodable, keyFromBytes, keyFromText } from "../bencode/index.ts"
import { type CreateFormat, PieceHasher, type SourceFile } from "./create-plan.ts"
import { type FileMerkle, FileMerkleHasher } from "./merkle.ts"

/**
 * Bytes of BEP 47 padding after each file in a hybrid's v1 list, so every file starts on a
 * piece boundary as its v2 tree requires. Like libtorrent 2.0: every file ending mid-piece
 * is padded, the last one too, except when the list holds a lone file (nothing follows it).
 */
export const hybridPadding = (files: ReadonlyArray<SourceFile>, pieceLength: number): ReadonlyArray<number> =>
  files.map((f) => (files.length > 1 && f.length % pieceLength !== 0 ? pieceLength - (f.length % pieceLength) : 0))

const ZERO_CHUNK = 1024 * 1024

/**
 * Everything create computes from the payload, fed file by file in torrent order: `update`
 * with each file's bytes, then `endFile`. Memory: one SHA-1 state, one piece's leaves,
 * 20 bytes per v1 piece and 32 per v2 piece, whatever the payload size.
 */
export class PayloadHasher {
  readonly padding: ReadonlyArray<number>
  private readonly pieceLength: number
  private readonly v1: PieceHasher | null
  private v2: FileMerkleHasher | null
  private readonly merkle: Array<FileMerkle> = []
  private zeros: Uint8Array | null = null
  private fileIndex = 0

  constructor(format: CreateFormat, pieceLength: number, files: ReadonlyArray<SourceFile>) {
    this.pieceLength = pieceLength
    this.padding = format === "hybrid" ? hybridPadding(files, pieceLength) : files.map(() => 0)
    let v1Size = 0
    files.forEach((f, i) => (v1Size += f.length + (this.padding[i] ?? 0)))
    this.v1 = format === "v2" ? null : new PieceHasher(pieceLength, v1Size)
    this.v2 = format === "v1" ? null : new FileMerkleHasher(pieceLength)
  }

  update(chunk: Uint8Array): void {
    this.v1?.update(chunk)
    this.v2?.update(chunk)
  }

  /** Closes the current file: its merkle tree, then (hybrid) its padding's zeros into the v1 pieces. */
  endFile(): void {
    if (this.v2 !== null) {
      this.merkle.push(this.v2.finish())
      this.v2 = new FileMerkleHasher(this.pieceLength)
    }
    let pad = this.padding[this.fileIndex++] ?? 0
    if (this.v1 === null || pad === 0) return
    this.zeros ??= new Uint8Array(Math.min(this.pieceLength, ZERO_CHUNK))
    while (pad > 0) {
      const n = Math.min(pad, this.zeros.length)
      this.v1.update(this.zeros.subarray(0, n))
      pad -= n
    }
  }

  /** v1 piece hashes (null for v2) and each file's merkle root and layer (empty for v1). */
  finish(): { readonly pieces: Uint8Array | null; readonly merkle: ReadonlyArray<FileMerkle> } {
    return { pieces: this.v1?.finish() ?? null, merkle: this.merkle }
  }
}

type Tree = { [key: string]: Tree | Encodable }

/**
 * BEP 52 `file tree`: nested dicts keyed by UTF-8 path components, a file being `{"": {length,
 * pieces root}}` (no root for an empty file). A single-file torrent's tree holds the file
 * under the torrent name, as libtorrent writes it.
 */
export const fileTree = (
  name: string,
  single: boolean,
  files: ReadonlyArray<SourceFile>,
  merkle: ReadonlyArray<FileMerkle>
): Encodable => {
  const tree: Tree = {}
  files.forEach((f, i) => {
    const root = merkle[i]?.root ?? null
    const leaf: Encodable = root === null ? { length: f.length } : { length: f.length, "pieces root": root }
    const path = single ? [name] : f.path
    let node = tree
    path.forEach((component, depth) => {
      const key = keyFromText(component)
      if (depth === path.length - 1) {
        node[key] = { "": leaf }
      } else {
        const next = (node[key] ??= {}) as Tree
        node = next
      }
    })
  })
  return tree
}

/** BEP 52 `piece layers`: each file larger than one piece, keyed by its raw pieces root. */
export const pieceLayers = (merkle: ReadonlyArray<FileMerkle>): Encodable => {
  const out: Record<string, Encodable> = {}
  for (const m of merkle) if (m.root !== null && m.layer !== null) out[keyFromBytes(m.root)] = m.layer
  return out
}
