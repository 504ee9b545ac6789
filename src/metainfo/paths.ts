/**
 * File path policy: sanitise, never escape the download directory.
 *
 * Decisions (libtorrent sanitises; so do we, except where noted):
 * - Names are UTF-8; each invalid byte becomes "_" (BEP 52: "implementations
 *   must be prepared to sanitize"). `name.utf-8` / `path.utf-8` win when valid.
 * - Path separators ("/" and "\") and control characters (incl. NUL) inside a
 *   component are DELETED, never split on: ['foo/../../bar'] -> 'foo....bar'.
 *   A component that ends up "", "." or ".." becomes "_" (so ['..','..','x']
 *   -> '_/_/x', ['/'] -> '_'). Absolute paths therefore cannot exist.
 * - The torrent name, when unusable after this ("", ".", ".."), is replaced
 *   by the lower-case hex info-hash (libtorrent does the same).
 * - Components longer than 240 UTF-8 bytes are truncated, keeping a short
 *   extension (filesystems cap names at 255 bytes).
 * - Two files that land on the same path: the later one is renamed by inserting
 *   ".N" before its extension (bar.txt -> bar.1.txt), like libtorrent.
 *   A file path that equals a directory of another file is renamed the same way;
 *   a directory that equals an earlier file's path is REJECTED (PathConflict):
 *   renaming a whole directory consistently is not worth the complexity.
 * - REJECTED: a file entry without `path` or with an empty path list, a path
 *   element that is not a byte string, more than MAX_PATH_COMPONENTS components
 *   or more than MAX_PATH_BYTES bytes in total (resource caps).
 * Padding files are never written, so they take no part in collision handling.
 */

export const MAX_COMPONENT_BYTES = 240
export const MAX_PATH_COMPONENTS = 128
export const MAX_PATH_BYTES = 4096
/** Budget for collision renames across one torrent (guards against quadratic probing). */
export const MAX_RENAME_PROBES = 100_000

const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true })
const textEncoder = new TextEncoder()

/** Decodes UTF-8, turning each invalid sequence into "_". */
export const decodeName = (bytes: Uint8Array): string => lenientUtf8.decode(bytes).replaceAll("\uFFFD", "_")

const FORBIDDEN = /[\u0000-\u001f\u007f/\\]/g

const truncate = (s: string): string => {
  if (textEncoder.encode(s).length <= MAX_COMPONENT_BYTES) return s
  const dot = s.lastIndexOf(".")
  const ext = dot > 0 && s.length - dot <= 10 ? s.slice(dot) : ""
  const budget = MAX_COMPONENT_BYTES - textEncoder.encode(ext).length
  let out = ""
  let size = 0
  for (const ch of s.slice(0, s.length - ext.length)) {
    const n = textEncoder.encode(ch).length
    if (size + n > budget) break
    out += ch
    size += n
  }
  return out + ext
}

/** Removes separators/control chars; `undefined` when nothing usable is left. */
export const cleanComponent = (raw: string): string | undefined => {
  const s = truncate(raw.replace(FORBIDDEN, ""))
  return s === "" || s === "." || s === ".." ? undefined : s
}

/** A path component as it will be used on disk (never "", ".", "..", never a separator or NUL). */
export const sanitizeComponent = (raw: string): string => cleanComponent(raw) ?? "_"

const insertCounter = (name: string, n: number): string => {
  const dot = name.lastIndexOf(".")
  return dot > 0 ? `${name.slice(0, dot)}.${n}${name.slice(dot)}` : `${name}.${n}`
}

/**
 * Assigns unique on-disk paths to files in order. `add` returns the path to
 * use, or a string describing why it cannot be placed.
 */
export const makePathAllocator = () => {
  const files = new Set<string>()
  const dirs = new Set<string>()
  const nextCounter = new Map<string, number>()
  let probes = 0
  const add = (path: ReadonlyArray<string>): { readonly path: ReadonlyArray<string> } | { readonly error: string } => {
    let prefix = ""
    for (let i = 0; i < path.length - 1; i++) {
      prefix = i === 0 ? (path[i] ?? "") : `${prefix}/${path[i] ?? ""}`
      if (files.has(prefix)) return { error: `directory ${JSON.stringify(prefix)} is also a file` }
    }
    const leaf = path[path.length - 1] ?? "_"
    const parent = path.slice(0, -1)
    const key = (name: string) => [...parent, name].join("/")
    let name = leaf
    if (files.has(key(name)) || dirs.has(key(name))) {
      let n = nextCounter.get(key(leaf)) ?? 1
      for (;;) {
        if (++probes > MAX_RENAME_PROBES) return { error: "too many colliding file names" }
        name = insertCounter(leaf, n++)
        if (!files.has(key(name)) && !dirs.has(key(name))) break
      }
      nextCounter.set(key(leaf), n)
    }
    const final = [...parent, name]
    files.add(final.join("/"))
    let d = ""
    for (let i = 0; i < parent.length; i++) {
      d = i === 0 ? (parent[i] ?? "") : `${d}/${parent[i] ?? ""}`
      dirs.add(d)
    }
    return { path: final }
  }
  const isFileOrDir = (path: ReadonlyArray<string>) => files.has(path.join("/")) || dirs.has(path.join("/"))
  return { add, isFileOrDir }
}
