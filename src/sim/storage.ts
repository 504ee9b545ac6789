/**
 * Storage for simulated hosts: the real storage core (block assembly, SHA-1
 * verification, have set, read cache) over a backend that keeps no piece data of its
 * own. A verified piece is, by its hash, the torrent's known content, so the backend only
 * records that the host has it and serves reads from the one shared content buffer:
 * 1000 hosts of a 64 MiB torrent need 64 MiB plus their partial pieces, not 64 GB.
 *
 * - `seed`: the host starts with every piece (a trusted resume record, no re-hash).
 * - `corrupt`: the host serves every piece with bytes flipped — a peer that lies about
 *   its data while believing it has it; receivers' hash checks catch it. Its pieces are
 *   views of one corrupted copy of the content (`corruptedContent`), made once per torrent.
 * Data (the have set) persists across open/close for the life of the storage, like
 * files on disk, so a crashed and restarted host resumes.
 */
import * as NodePath from "node:path"
import { Effect } from "effect"
import { hasBit, setBit } from "../scheduler/geometry.ts"
import { type Backend, type BackendInput, openWith, type PieceHasherShape, Storage } from "../storage/index.ts"

export interface SharedContent {
  /** Payload by info-hash (hex). */
  readonly get: (infoHash: string) => Uint8Array | undefined
  /** What corrupt hosts serve instead (see `corruptedContent`); default: made from `get` on first use. */
  readonly corrupt?: (infoHash: string) => Uint8Array | undefined
}

export interface SimStorageOptions {
  /** Info-hashes (hex) this host has in full from the start. */
  readonly seeding?: ReadonlyArray<string>
  /** Serve corrupted bytes for every piece. */
  readonly corrupt?: boolean
  /** Hashes completed pieces (see hashing.ts); default inline. */
  readonly hasher?: PieceHasherShape
}


/** The content with a byte in every 997 of each piece flipped, in shared memory (hashing threads read it). */
export const corruptedContent = (content: Uint8Array, pieceLength: number): Uint8Array => {
  const copy = new Uint8Array(new SharedArrayBuffer(content.length))
  copy.set(content)
  for (let start = 0; start < copy.length; start += pieceLength) {
    const end = Math.min(copy.length, start + pieceLength)
    for (let i = start; i < end; i += 997) copy[i] = (copy[i] ?? 0) ^ 0x5a
  }
  return copy
}

export const makeSimStorage = (content: SharedContent, options: SimStorageOptions = {}): Storage["Service"] => {
  const disks = new Map<string, Uint8Array>()
  const seeding = new Set(options.seeding ?? [])
  const corrupt = new Map<string, Uint8Array | undefined>()
  const corruptFor = (key: string, pieceLength: number) => {
    if (!corrupt.has(key)) {
      const honest = content.get(key)
      corrupt.set(key, honest === undefined ? undefined : corruptedContent(honest, pieceLength))
    }
    return corrupt.get(key)
  }
  const backendFor = (input: BackendInput): Effect.Effect<Backend> =>
    Effect.sync(() => {
      const { layout } = input
      const data = options.corrupt === true
        ? content.corrupt?.(input.key) ?? corruptFor(input.key, layout.pieceLength)
        : content.get(input.key)
      const id = `${NodePath.resolve(input.root)}\0${input.key}`
      const bytes = Math.ceil(layout.pieceCount / 8)
      let have = disks.get(id)
      if (have === undefined || have.length !== bytes) {
        have = new Uint8Array(bytes)
        if (seeding.has(input.key) && data !== undefined) for (let i = 0; i < layout.pieceCount; i++) setBit(have, i)
        disks.set(id, have)
      }
      const bits = have
      const slice = (piece: number): Uint8Array | null => {
        if (data === undefined || !hasBit(bits, piece)) return null
        const start = piece * layout.pieceLength
        return data.subarray(start, Math.min(data.length, start + layout.pieceLength))
      }
      const backend: Backend = {
        writePiece: (piece) => Effect.sync(() => setBit(bits, piece)),
        writePieceSync: (piece) => setBit(bits, piece),
        readPiece: (piece) => Effect.sync(() => slice(piece)),
        ...(options.corrupt === true ? {} : { readPieceSync: slice }),
        beginRecheck: Effect.succeed((piece) => Effect.sync(() => slice(piece))),
        // only verified pieces are ever recorded, so the record may be trusted
        loadResume: Effect.sync(() => bits.slice()),
        saveResume: () => Effect.void,
        close: Effect.void,
        // kept as it was when corrupt hosts copied every read: same reads, same trace
        cacheReads: options.corrupt === true,
        retainsBuffers: false,
        storesBytes: false
      }
      return backend
    })
  return Storage.of({ open: openWith(backendFor, options.hasher) })
}
