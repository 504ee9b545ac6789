/** Command-line options of bench/run.ts. */
export interface BenchOptions {
  /** Payload size in bytes. */
  readonly size: number
  readonly runs: number
  /** One extra run of our leecher under `node --cpu-prof`. */
  readonly profile: boolean
  /** Append the results to bench/RESULTS.md. */
  readonly record: boolean
  /**
   * What the seeders and both leechers speak: "tcp" (uTP off) or "utp" (TCP off). Our
   * leecher gets `transports: [transport]`, everything else at its defaults.
   */
  readonly transport: "tcp" | "utp"
  /** Seeders to download from: plaintext (libtorrent's defaults), RC4 forced, or both. */
  readonly seeders: ReadonlyArray<"plain" | "rc4">
  /** Parts left out (`--skip leech,seed,startup`): a quicker run while iterating. */
  readonly skip: ReadonlySet<"leech" | "seed" | "startup">
  /** Also run our leecher with `--trace` (every wire message to a file): the trace's cost. */
  readonly trace: boolean
  /** Only the scale bench (bench/scale.ts): idle peers and loaded torrents in one process. */
  readonly scale: boolean
  /**
   * Only the growth bench (bench/growth.ts): peak anon of our leecher for sparse payloads of
   * these sizes (`--growth`: 1 GiB and 16 GiB; `--growth-sizes 64MiB,1GiB` to iterate).
   */
  readonly growth: ReadonlyArray<number> | undefined
  /** The seeding part also runs this other build of our CLI (a dist/cli copy) as "baseline". */
  readonly seedBaseline: string | undefined
  /** Our seeders run under --cpu-prof; their GC share goes into the seeding section. */
  readonly seedProfile: boolean
}

const PARTS = ["leech", "seed", "startup"] as const

const units: Record<string, number> = { "": 1, b: 1, kib: 1 << 10, mib: 1 << 20, gib: 1 << 30, kb: 1e3, mb: 1e6, gb: 1e9 }

/** "256MiB", "1GiB", "1000000" -> bytes. */
export const parseSize = (text: string): number => {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  const unit = units[(match?.[2] ?? "").toLowerCase()]
  if (match?.[1] === undefined || unit === undefined) throw new Error(`bad size "${text}" (e.g. 256MiB, 1GiB)`)
  const bytes = Math.round(Number(match[1]) * unit)
  if (bytes < 1 || bytes > 64 * 2 ** 30) throw new Error(`size ${text} out of range (1 byte .. 64 GiB)`)
  return bytes
}

export const sizeLabel = (bytes: number): string =>
  bytes % 2 ** 30 === 0 ? `${bytes / 2 ** 30}GiB` : bytes % 2 ** 20 === 0 ? `${bytes / 2 ** 20}MiB` : `${bytes}B`

export const parseArgs = (argv: ReadonlyArray<string>): BenchOptions => {
  let size = 2 ** 30
  let runs = 1
  let profile = false
  let trace = false
  let scale = false
  let growth: ReadonlyArray<number> | undefined
  let seedBaseline: string | undefined
  let seedProfile = false
  let record = true
  let transport: "tcp" | "utp" = "tcp"
  const skip = new Set<"leech" | "seed" | "startup">()
  let seeders: ReadonlyArray<"plain" | "rc4"> = ["plain", "rc4"]
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const next = argv[++i]
      if (next === undefined) throw new Error(`${arg} needs a value`)
      return next
    }
    if (arg === "--size") size = parseSize(value())
    else if (arg === "--runs") runs = Math.max(1, Math.floor(Number(value())) || 1)
    else if (arg === "--profile") profile = true
    else if (arg === "--trace") trace = true
    else if (arg === "--scale") scale = true
    else if (arg === "--growth") growth = [2 ** 30, 16 * 2 ** 30]
    else if (arg === "--growth-sizes") growth = value().split(",").map(parseSize)
    else if (arg === "--seed-baseline") seedBaseline = value()
    else if (arg === "--seed-profile") seedProfile = true
    else if (arg === "--no-record") record = false
    else if (arg === "--skip") {
      for (const part of value().split(",")) {
        const known = PARTS.find((p) => p === part)
        if (known === undefined) throw new Error(`--skip takes ${PARTS.join(", ")}; got ${part}`)
        skip.add(known)
      }
    } else if (arg === "--transport") {
      const t = value()
      if (t !== "tcp" && t !== "utp") throw new Error(`--transport is tcp or utp, got ${t}`)
      transport = t
    } else if (arg === "--seeders") {
      const v = value()
      seeders = v === "both" ? ["plain", "rc4"] : v === "plain" || v === "rc4" ? [v] : []
      if (seeders.length === 0) throw new Error(`--seeders takes plain, rc4 or both, not ${v}`)
    } else throw new Error(`unknown option ${arg}\nusage: node bench/run.ts [--size 1GiB] [--runs N] [--transport tcp|utp] [--seeders plain|rc4|both] [--profile] [--trace] [--scale] [--growth] [--growth-sizes 1GiB,16GiB] [--seed-baseline DIR] [--seed-profile] [--skip leech,seed,startup] [--no-record]`)
  }
  return { size, runs, profile, record, transport, seeders, skip, trace, scale, growth, seedBaseline, seedProfile }
}
