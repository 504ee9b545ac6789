/**
 * Launchers for the Debian reference clients, each confined to 127.0.0.1 with DHT,
 * LSD, PEX, UPnP and NAT-PMP off (recipes: /work/shared/INTEROP.md).
 */
import { Effect, Option, Schema, type Scope } from "effect"
import { chmod, mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { InteropError, type Spawned, spawnProcess } from "./process.ts"

export const PYTHON = "/usr/bin/python3"
export const ARIA2C = "/usr/bin/aria2c"
export const TRANSMISSION = "/usr/bin/transmission-cli"
export const MKTORRENT = "/usr/bin/mktorrent"
export const OPENTRACKER = "/usr/bin/opentracker"
const STDBUF = "/usr/bin/stdbuf"

const LT_SCRIPT = fileURLToPath(new URL("../lt_peer.py", import.meta.url))

// ---------------------------------------------------------------- libtorrent

const LtListening = Schema.Struct({ event: Schema.Literal("listening"), port: Schema.Number })
const LtReady = Schema.Struct({ event: Schema.Literal("ready"), pieces: Schema.Number, seeding: Schema.Boolean })
const LtCreated = Schema.Struct({ event: Schema.Literal("created"), infoHash: Schema.String, pieces: Schema.Number })
const LtFinished = Schema.Struct({ event: Schema.Literal("finished") })
const LtTransport = Schema.Literals(["utp", "tcp"])
const LtStats = Schema.Struct({
  event: Schema.Literal("stats"),
  uploaded: Schema.Number,
  downloaded: Schema.Number,
  pieces: Schema.Number,
  peers: Schema.Number,
  seeding: Schema.Boolean,
  state: Schema.String,
  /** The transport of each connected peer. */
  transports: Schema.Array(LtTransport)
})
export type LtStats = typeof LtStats.Type

const LtMetadata = Schema.Struct({ event: Schema.Literal("metadata"), size: Schema.Number })
const LtDhtAnnounce = Schema.Struct({ event: Schema.Literal("dht-announce"), infoHash: Schema.String, port: Schema.Number })
export type LtDhtAnnounce = typeof LtDhtAnnounce.Type
const LtDhtStats = Schema.Struct({ event: Schema.Literal("dht-stats"), nodes: Schema.Number })
const LtDhtLive = Schema.Struct({ event: Schema.Literal("dht-live"), ports: Schema.Array(Schema.Number) })
const LtConnectAttempt = Schema.Struct({ event: Schema.Literal("connect-attempt"), transport: LtTransport })

const LtTransportsSeen = Schema.Struct({ event: Schema.Literal("transports"), seen: Schema.Array(LtTransport) })

const LtEvent = Schema.Union([
  LtTransportsSeen,
  LtListening,
  LtReady,
  LtCreated,
  LtFinished,
  LtStats,
  LtMetadata,
  LtDhtAnnounce,
  LtDhtStats,
  LtDhtLive,
  LtConnectAttempt
])
type LtEvent = typeof LtEvent.Type
const decodeLine = Schema.decodeUnknownOption(Schema.fromJsonString(LtEvent))

/** Every event of kind `kind` that `proc` printed so far, oldest first. */
const allEvents = <K extends LtEvent["event"]>(proc: Spawned, kind: K): ReadonlyArray<Extract<LtEvent, { readonly event: K }>> =>
  proc.lines().flatMap((line) => {
    const event = decodeLine(line)
    return Option.isSome(event) && event.value.event === kind ? [event.value as Extract<LtEvent, { readonly event: K }>] : []
  })

/** The last event of kind `kind` that `proc` printed. */
const lastEvent = <K extends LtEvent["event"]>(proc: Spawned, kind: K): Extract<LtEvent, { readonly event: K }> | undefined => {
  const lines = proc.lines()
  for (let i = lines.length - 1; i >= 0; i--) {
    const event = decodeLine(lines[i] ?? "")
    if (Option.isSome(event) && event.value.event === kind) return event.value as Extract<LtEvent, { readonly event: K }>
  }
  return undefined
}

export interface LtPeer {
  readonly proc: Spawned
  readonly port: number
  /** Pieces it held after checking its data. */
  readonly piecesAtStart: number
  readonly stats: () => LtStats | undefined
  readonly finished: () => boolean
  /** With a DHT: the 127.0.0.1 ports of the live nodes in its routing table (last report). */
  readonly dhtLive: () => ReadonlyArray<number>
  /** The transport of every outgoing connection attempt so far, in order. */
  readonly connectAttempts: () => ReadonlyArray<"utp" | "tcp">
  /** Every transport a connected peer has used so far (sampled at most 100 ms apart). */
  readonly transportsSeen: () => ReadonlyArray<"utp" | "tcp">
}

/**
 * libtorrent's transports: its defaults (TCP and uTP, uTP dialled first), or uTP only
 * (TCP off both ways, INTEROP.md), or TCP only.
 */
export type LtTransports = "default" | "utp" | "tcp"

/** Makes a v1 .torrent of `data` (a file or directory) with libtorrent's `create_torrent`. */
export const ltCreate = (
  data: string,
  out: string,
  options: { readonly pieceLength: number; readonly tracker?: string; readonly format?: "v1" | "v2" | "hybrid" }
) =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* spawnProcess("libtorrent create", PYTHON, [
      LT_SCRIPT, "create", "--data", data, "--out", out, "--piece-length", String(options.pieceLength),
      "--format", options.format ?? "v1",
      ...(options.tracker === undefined ? [] : ["--tracker", options.tracker])
    ])
    return yield* proc.waitFor("created", () => lastEvent(proc, "created"), "30 seconds")
  }))

/** A loopback node's `HOST:PORT` on `host`'s family: `[::1]:PORT` for an IPv6 session. */
const loopbackNode = (host: string | undefined, port: number) => host?.includes(":") === true ? `[::1]:${port}` : `127.0.0.1:${port}`

/** `--dht` and its loopback nodes, when `dhtNodes` is given (ports on 127.0.0.1, or ::1 when `host` is IPv6). */
const dhtArgs = (dhtNodes: ReadonlyArray<number> | undefined, log: boolean | undefined, host?: string) => [
  ...(dhtNodes === undefined ? [] : ["--dht", ...dhtNodes.flatMap((port) => ["--dht-node", loopbackNode(host, port)])]),
  ...(log === true || process.env["INTEROP_DHT_LOG"] === "1" ? ["--dht-log"] : [])
]

/**
 * A libtorrent session seeding (or leeching) `torrent` from/into `save`. It rechecks
 * what is on disk first, so a copy with zeroed pieces seeds only what it really has;
 * after that it dials `connect`. With `dhtNodes` its DHT is on, joined through those
 * 127.0.0.1 ports only, and a seeder announces to it every few seconds.
 */
export const ltPeer = (
  name: string,
  mode: "seed" | "leech",
  options: {
    readonly torrent: string
    readonly save: string
    readonly connect?: ReadonlyArray<number>
    readonly port?: number
    /** The interface libtorrent listens on (default 127.0.0.1; "::1" for IPv6). */
    readonly host?: string
    readonly dhtNodes?: ReadonlyArray<number>
    /** Default: libtorrent's own. */
    readonly transports?: LtTransports
    /** Accept and open only RC4-encrypted connections (MSE/PE forced). */
    readonly forceEncryption?: boolean
    /** Refuse MSE/PE both ways: a plaintext-only peer. */
    readonly disableEncryption?: boolean
  }
): Effect.Effect<LtPeer, InteropError, Scope.Scope> =>
  Effect.gen(function*() {
    const proc = yield* spawnProcess(name, PYTHON, [
      LT_SCRIPT, mode, "--torrent", options.torrent, "--save", options.save,
      ...(options.connect ?? []).flatMap((port) => ["--connect", `127.0.0.1:${port}`]),
      ...(options.port === undefined ? [] : ["--port", String(options.port)]),
      ...(options.host === undefined ? [] : ["--host", options.host]),
      ...(options.transports === undefined ? [] : ["--transports", options.transports]),
      ...(options.forceEncryption === true ? ["--force-encryption"] : []),
      ...(options.disableEncryption === true ? ["--disable-encryption"] : []),
      ...dhtArgs(options.dhtNodes, false, options.host)
    ])
    const { port } = yield* proc.waitFor("listening port", () => lastEvent(proc, "listening"), "20 seconds")
    const ready = yield* proc.waitFor("data check", () => lastEvent(proc, "ready"), "60 seconds")
    return {
      proc,
      port,
      piecesAtStart: ready.pieces,
      stats: () => lastEvent(proc, "stats"),
      finished: () => lastEvent(proc, "finished") !== undefined,
      dhtLive: () => lastEvent(proc, "dht-live")?.ports ?? [],
      connectAttempts: () => allEvents(proc, "connect-attempt").map((e) => e.transport),
      transportsSeen: () => [...(lastEvent(proc, "transports")?.seen ?? [])]
    }
  })

export interface LtMagnetLeecher {
  readonly proc: Spawned
  readonly port: number
  /** The info dict's size once libtorrent has it (it wrote it to `infoOut`). */
  readonly metadataSize: () => number | undefined
  readonly stats: () => LtStats | undefined
  readonly finished: () => boolean
}

/**
 * A libtorrent session given only `magnet`: it dials `connect` at once, fetches the
 * info dict from them (BEP 9), writes it to `infoOut`, then downloads into `save`.
 */
export const ltMagnetLeech = (
  name: string,
  options: { readonly magnet: string; readonly save: string; readonly infoOut: string; readonly connect: ReadonlyArray<number> }
): Effect.Effect<LtMagnetLeecher, InteropError, Scope.Scope> =>
  Effect.gen(function*() {
    const proc = yield* spawnProcess(name, PYTHON, [
      LT_SCRIPT, "leech", "--magnet", options.magnet, "--save", options.save, "--info-out", options.infoOut,
      ...options.connect.flatMap((port) => ["--connect", `127.0.0.1:${port}`])
    ])
    const { port } = yield* proc.waitFor("listening port", () => lastEvent(proc, "listening"), "20 seconds")
    return {
      proc,
      port,
      metadataSize: () => lastEvent(proc, "metadata")?.size,
      stats: () => lastEvent(proc, "stats"),
      finished: () => lastEvent(proc, "finished") !== undefined
    }
  })

export interface LtDhtNode {
  readonly proc: Spawned
  /** Its UDP (DHT) port, which is also its TCP port. */
  readonly port: number
  /** Every announce_peer it accepted so far. */
  readonly announces: () => ReadonlyArray<LtDhtAnnounce>
  /** Nodes in its routing table (about twice a second). */
  readonly nodes: () => number
  /** The loopback ports of the live nodes in its routing table (last report). */
  readonly live: () => ReadonlyArray<number>
}

/**
 * A libtorrent session that is only a DHT node (no torrent), on 127.0.0.1 (or ::1 with `host`): `port` (0 for
 * any), joined through `dhtNodes`. A Kademlia node never answers a lookup with its own
 * announce, so a magnet resolves only through a third node like this one (INTEROP.md).
 */
export const ltDhtNode = (
  name: string,
  options: {
    readonly port?: number
    readonly dhtNodes?: ReadonlyArray<number>
    /** "::1": an IPv6-only node (listening on [::1], its nodes given as [::1]:PORT). */
    readonly host?: string
  } = {}
): Effect.Effect<LtDhtNode, InteropError, Scope.Scope> =>
  Effect.gen(function*() {
    const proc = yield* spawnProcess(name, PYTHON, [
      LT_SCRIPT, "dht", ...(options.port === undefined ? [] : ["--port", String(options.port)]),
      ...(options.host === undefined ? [] : ["--host", options.host]),
      ...(options.dhtNodes ?? []).flatMap((port) => ["--dht-node", loopbackNode(options.host, port)]),
      ...dhtArgs(undefined, false)
    ])
    const { port } = yield* proc.waitFor("listening port", () => lastEvent(proc, "listening"), "20 seconds")
    return {
      proc,
      port,
      announces: () => allEvents(proc, "dht-announce"),
      nodes: () => lastEvent(proc, "dht-stats")?.nodes ?? 0,
      live: () => lastEvent(proc, "dht-live")?.ports ?? []
    }
  })

// ---------------------------------------------------------------- aria2

const aria2Common = (port: number) => [
  "--no-conf=true",
  "--enable-dht=false",
  "--enable-dht6=false",
  "--bt-enable-lpd=false",
  "--enable-peer-exchange=false",
  "--interface=127.0.0.1",
  "--disable-ipv6=true",
  `--listen-port=${port}`,
  "--file-allocation=none",
  "--summary-interval=1",
  "--console-log-level=notice",
  "--auto-save-interval=0"
]

/** `--bt-force-encryption=true`: RC4-encrypted connections only, both ways (it implies the rest). */
const aria2Encryption = (force: boolean | undefined) => (force === true ? ["--bt-force-encryption=true"] : [])

/** aria2 seeding `torrent` from `dir` on `port`; resolves once it has checked the data and seeds. */
export const aria2Seed = (options: { readonly torrent: string; readonly dir: string; readonly port: number; readonly forceEncryption?: boolean }) =>
  Effect.gen(function*() {
    const proc = yield* spawnProcess("aria2c seeder", ARIA2C, [
      ...aria2Common(options.port), ...aria2Encryption(options.forceEncryption), "-V", "--seed-ratio=0.0", "-d", options.dir, options.torrent
    ])
    yield* proc.waitFor("seeding status", () => (proc.output().includes("SEED(") ? true : undefined), "60 seconds")
    return proc
  })

/** aria2 leeching `torrent` into `dir`, listening on `port`; it exits once the download is done. */
export const aria2Leech = (options: { readonly torrent: string; readonly dir: string; readonly port: number; readonly forceEncryption?: boolean }) =>
  spawnProcess("aria2c leecher", ARIA2C, [
    ...aria2Common(options.port), ...aria2Encryption(options.forceEncryption), "--seed-time=0", "-d", options.dir, options.torrent
  ])

// ---------------------------------------------------------------- Transmission

/**
 * transmission-cli with its settings.json in a fresh config dir. It verifies the data
 * in `dir` first; `-f` makes it log "Calling script" when the torrent is complete,
 * which happens right after the check for a seeder, and after the download for a
 * leecher. It never exits by itself. Its encryption is its default, "preferred" (`-ep`);
 * `requireEncryption` makes it `"encryption": 2` and `-er`, so it takes and makes only
 * encrypted connections.
 */
export const transmission = (
  name: string,
  options: { readonly torrent: string; readonly dir: string; readonly configDir: string; readonly port: number; readonly requireEncryption?: boolean }
) =>
  Effect.gen(function*() {
    yield* Effect.promise(async () => {
      await mkdir(options.configDir, { recursive: true })
      await writeFile(join(options.configDir, "settings.json"), JSON.stringify({
        "dht-enabled": false,
        "lpd-enabled": false,
        "pex-enabled": false,
        "utp-enabled": false,
        "port-forwarding-enabled": false,
        "bind-address-ipv4": "127.0.0.1",
        "bind-address-ipv6": "::1",
        "peer-port": options.port,
        "peer-port-random-on-start": false,
        "rpc-enabled": false,
        "blocklist-enabled": false,
        // Transmission's own default is 1 (prefer encryption); 2 requires it
        "encryption": options.requireEncryption === true ? 2 : 1,
        "ratio-limit-enabled": false,
        "idle-seeding-limit-enabled": false,
        "speed-limit-up-enabled": false,
        "speed-limit-down-enabled": false
      }, null, 2))
    })
    // stdbuf (which execs, keeping the PID): unbuffered stdout, so its status line shows
    // when the torrent runs ("Progress:" / "Seeding"); before that it drops incoming peers.
    return yield* spawnProcess(name, STDBUF, [
      "-o0", TRANSMISSION, "-g", options.configDir, "-w", options.dir, "-p", String(options.port), options.requireEncryption === true ? "-er" : "-ep", "-M",
      "-f", "/bin/true", options.torrent
    ])
  })

/** The torrent is running (downloading or seeding), so it takes incoming peers. */
export const transmissionRunning = (proc: Spawned) =>
  /^(Progress:|Seeding)/m.test(proc.output()) ? true : undefined

export const transmissionComplete = (proc: Spawned) => proc.output().includes("Calling script") ? true : undefined

// ---------------------------------------------------------------- mktorrent, opentracker

/** mktorrent with 2^`pieceLengthLog2`-byte pieces; no announce URL unless given. */
export const mktorrent = (data: string, out: string, pieceLengthLog2: number, announce?: string) =>
  Effect.scoped(Effect.gen(function*() {
    const proc = yield* spawnProcess("mktorrent", MKTORRENT, [
      "-l", String(pieceLengthLog2), "-o", out, ...(announce === undefined ? [] : ["-a", announce]), data
    ])
    const code = yield* proc.waitExit("60 seconds")
    if (code !== 0) return yield* new InteropError({ detail: `mktorrent exited with ${String(code)}:\n${proc.output()}` })
  }))

/**
 * opentracker on 127.0.0.1:`port` (HTTP and UDP), serving only `infoHashes` (hex).
 * Started as root it chroots into `dir` and drops to nobody, and reads its whitelist
 * after the chroot: the `-w` path is relative to `dir`'s root, hence "/whitelist".
 */
export const opentracker = (options: { readonly dir: string; readonly port: number; readonly infoHashes: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    yield* Effect.promise(async () => {
      await mkdir(options.dir, { recursive: true })
      await writeFile(join(options.dir, "whitelist"), options.infoHashes.map((h) => `${h}\n`).join(""))
      await chmod(options.dir, 0o755)
      await chmod(join(options.dir, "whitelist"), 0o644)
    })
    return yield* spawnProcess("opentracker", OPENTRACKER, [
      "-i", "127.0.0.1", "-p", String(options.port), "-P", String(options.port), "-d", options.dir, "-w", "/whitelist"
    ])
  })

/** libtorrent logged a tracker reply (its announce reached the tracker). */
export const ltAnnounced = (peer: LtPeer) => peer.proc.output().includes("tracker reply") ? true : undefined
