/** Real temporary directories and pseudo-random payloads for tests. */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

export const tempDir = (prefix = "et-") =>
  Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), prefix))),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true }))
  )

/** Writes files of the given sizes (random content) under `root`; returns their relative paths. */
export const writePayload = (root: string, files: Record<string, number>) =>
  Effect.promise(async () => {
    for (const [path, size] of Object.entries(files)) {
      const full = join(root, path)
      await mkdir(dirname(full), { recursive: true })
      await writeFile(full, randomBytes(size))
    }
    return Object.keys(files)
  })

export const sameFile = (a: string, b: string) =>
  Effect.promise(async () => Buffer.compare(await readFile(a), await readFile(b)) === 0)
