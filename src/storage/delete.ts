/**
 * Deleting a torrent's data: its files, the folders they leave empty, and its resume record.
 * Paths come from the metainfo through the same checks as writing (`resolveInside`), so a
 * torrent cannot make us delete anything outside its download directory.
 */
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { Effect } from "effect"
import type { Metainfo } from "../metainfo/model.ts"
import { toHex } from "../bytes.ts"
import { wireInfoHash } from "../metainfo/identity.ts"
import { io, ioOrMissing } from "./handles.ts"
import { isInside, resolveInside } from "./layout.ts"
import { resumePath } from "./resume.ts"

/**
 * Removes the torrent's files from `directory` (close its storage first). Folders the
 * files were in are removed when they end up empty; the directory itself stays.
 */
export const deleteTorrentData = Effect.fnUntraced(function*(
  meta: Metainfo,
  directory: string,
  options: { readonly resumeDirectory?: string } = {}
) {
  const root = NodePath.resolve(directory)
  const folders = new Set<string>()
  for (const file of meta.files) {
    if (file.padding) continue
    const resolved = resolveInside(root, file.path)
    if (resolved._tag === "Refused") continue
    yield* ioOrMissing("delete", resolved.path, () => Fs.rm(resolved.path, { force: true }))
    for (let dir = NodePath.dirname(resolved.path); isInside(root, dir); dir = NodePath.dirname(dir)) folders.add(dir)
  }
  // Deepest first, so a parent is tried after its children; a folder with other files stays.
  for (const dir of [...folders].sort((a, b) => b.length - a.length)) {
    yield* Effect.ignore(io("remove folder", dir, () => Fs.rmdir(dir)))
  }
  const record = resumePath(root, toHex(wireInfoHash(meta)), options.resumeDirectory)
  yield* ioOrMissing("delete", record, () => Fs.rm(record, { force: true }))
})
