/**
 * MemoryStorage: the same core as FileStorage with pieces kept in memory, for the
 * simulator and tests. A verified piece's assembly buffer becomes its stored copy (one
 * buffer per piece, shared with readers, never copied), so memory never exceeds the
 * torrent's verified data plus the bounded partial pieces. Data persists across
 * open/close for the life of the layer, keyed by directory and info-hash, so a reopened
 * torrent resumes like it would from disk.
 */
import * as NodePath from "node:path"
import { Effect, Layer } from "effect"
import type { Backend } from "./backend.ts"
import * as Bitfield from "./bitfield.ts"
import { PieceHasher, type PieceHasherShape } from "./hasher.ts"
import { type BackendInput, openWith, Storage } from "./service.ts"

type Disk = Array<Uint8Array | undefined>

const memoryBackend = (disk: Disk): Backend => {
  const stored = (piece: number) => Effect.succeed(disk[piece] ?? null)
  return {
    writePiece: (piece, data) => Effect.sync(() => void (disk[piece] = data)),
    writePieceSync: (piece, data) => void (disk[piece] = data),
    readPiece: stored,
    readPieceSync: (piece) => disk[piece] ?? null,
    beginRecheck: Effect.succeed((piece) => stored(piece)),
    // only verified pieces are ever stored, so what is stored may be trusted
    loadResume: Effect.sync(() => Bitfield.fromBooleans(Array.from(disk, (p) => p !== undefined))),
    saveResume: () => Effect.void,
    close: Effect.void,
    cacheReads: false,
    retainsBuffers: true
  }
}

/** A fresh, empty in-memory "disk" implementing the Storage service; `hasher` as in `openWith`. */
export const makeMemoryStorage = (hasher?: PieceHasherShape): Storage["Service"] => {
  const disks = new Map<string, Disk>()
  const open = openWith((input: BackendInput) =>
    Effect.sync(() => {
      const id = `${NodePath.resolve(input.root)}\0${input.key}`
      let disk = disks.get(id)
      if (disk === undefined || disk.length !== input.layout.pieceCount) {
        disk = Array.from({ length: input.layout.pieceCount }, () => undefined)
        disks.set(id, disk)
      }
      return memoryBackend(disk)
    }), hasher)
  return Storage.of({ open })
}

/**
 * `Storage` in memory: for tests and the simulator, where a disk would only add noise. Each
 * build of a layer is a new empty disk that keeps torrents' data across open/close.
 */
export const MemoryStorage = {
  /** Each build of this layer is a new empty in-memory disk; blocks hashed inline as they arrive. */
  layer: Layer.sync(Storage, () => makeMemoryStorage()),
  /** Like `layer`, with completed pieces hashed by the `PieceHasher`. */
  layerWithHasher: Layer.effect(Storage, Effect.map(PieceHasher, makeMemoryStorage)),
  make: makeMemoryStorage
} as const
