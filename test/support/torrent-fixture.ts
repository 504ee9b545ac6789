/**
 * A payload on disk and its .torrent, made by our own `createTorrent`, plus the payload as
 * one buffer (files concatenated in metainfo order) for scripted peers to serve from.
 */
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import { Effect } from "effect"
import { open, readFile } from "node:fs/promises"
import { join } from "node:path"
import { createTorrent } from "../../src/metainfo/create.ts"
import type { Metainfo } from "../../src/metainfo/index.ts"
import { parseMetainfo } from "../../src/metainfo/index.ts"
import { sameFile, writePayload } from "./files.ts"

export interface TorrentFixture {
  /** Directory holding the payload: a client pointed here already has everything. */
  readonly root: string
  readonly torrent: Uint8Array
  readonly metainfo: Metainfo
  readonly infoHash: Uint8Array
  readonly data: Uint8Array
}

/** The payload as one buffer, read from `root` in metainfo order. */
export const readPayload = (root: string, metainfo: Metainfo) =>
  Effect.promise(async () => {
    const out = new Uint8Array(metainfo.totalSize)
    for (const file of metainfo.files) {
      if (file.padding || file.length === 0) continue
      out.set(await readFile(join(root, ...file.path)), file.offset)
    }
    return out
  })

/** Writes `files` (sizes, random content) under `root/name` and makes a torrent of that directory. */
export const makeTorrent = (root: string, name: string, files: Record<string, number>, pieceLength: number) =>
  Effect.gen(function*() {
    yield* writePayload(join(root, name), files)
    const created = yield* createTorrent(join(root, name), { pieceLength }).pipe(Effect.provide(NodeFileSystem.layer), Effect.orDie)
    const metainfo = created.metainfo
    if (metainfo.infoHash === null) return yield* Effect.die(new Error("expected a v1 torrent"))
    const fixture: TorrentFixture = {
      root,
      torrent: created.torrent,
      metainfo,
      infoHash: metainfo.infoHash,
      data: yield* readPayload(root, metainfo)
    }
    return fixture
  })

/** A torrent made by someone else (e.g. WebTorrent) for a payload already under `root`. */
export const fixtureFrom = (root: string, torrent: Uint8Array) =>
  Effect.gen(function*() {
    const metainfo = yield* parseMetainfo(torrent).pipe(Effect.orDie)
    if (metainfo.infoHash === null) return yield* Effect.die(new Error("expected a v1 torrent"))
    const fixture: TorrentFixture = { root, torrent, metainfo, infoHash: metainfo.infoHash, data: yield* readPayload(root, metainfo) }
    return fixture
  })

/** Every non-padding file of the torrent is byte-identical under `a` and `b`; returns the paths that differ. */
export const differingFiles = (metainfo: Metainfo, a: string, b: string) =>
  Effect.gen(function*() {
    const differ: Array<string> = []
    for (const file of metainfo.files) {
      if (file.padding) continue
      if (!(yield* sameFile(join(a, ...file.path), join(b, ...file.path)))) differ.push(file.path.join("/"))
    }
    return differ
  })

/** Bytes of piece `piece` of `data`. */
export const pieceBytes = (fixture: TorrentFixture, piece: number): Uint8Array => {
  const start = piece * fixture.metainfo.pieceLength
  return fixture.data.subarray(start, Math.min(fixture.data.length, start + fixture.metainfo.pieceLength))
}

/**
 * Piece `piece` as it is on disk under `root` right now: ranges of missing or short files
 * read as zeros (so an unwritten piece simply does not match).
 */
export const pieceOnDisk = (root: string, metainfo: Metainfo, piece: number) =>
  Effect.promise(async () => {
    const start = piece * metainfo.pieceLength
    const end = Math.min(metainfo.totalSize, start + metainfo.pieceLength)
    const out = new Uint8Array(end - start)
    for (const file of metainfo.files) {
      const from = Math.max(start, file.offset)
      const to = Math.min(end, file.offset + file.length)
      if (file.padding || from >= to) continue
      const handle = await open(join(root, ...file.path), "r").catch(() => null)
      if (handle === null) continue
      try {
        await handle.read(out, from - start, to - from, from - file.offset)
      } finally {
        await handle.close()
      }
    }
    return out
  })

/**
 * Damages `pieces` on disk under `fixture.root` (the first byte of each is inverted), so a
 * client checking that copy finds exactly those pieces missing. `fixture.data` keeps the
 * original bytes.
 */
export const damagePieces = (fixture: TorrentFixture, pieces: ReadonlyArray<number>) =>
  Effect.promise(async () => {
    const { metainfo } = fixture
    for (const piece of pieces) {
      const at = piece * metainfo.pieceLength
      const file = metainfo.files.find((f) => !f.padding && f.offset <= at && at < f.offset + f.length)
      if (file === undefined) throw new Error(`piece ${piece} starts in no file`)
      const handle = await open(join(fixture.root, ...file.path), "r+")
      try {
        await handle.write(Uint8Array.of((fixture.data[at] ?? 0) ^ 0xff), 0, 1, at - file.offset)
      } finally {
        await handle.close()
      }
    }
  })
