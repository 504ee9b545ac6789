/**
 * Opening an outgoing peer connection under the torrent's encryption policy: over
 * whatever transport `TorrentConfig.dial` gives (TCP, uTP), either an MSE/PE handshake
 * carrying our BitTorrent handshake as its initial payload, or a plaintext handshake.
 *
 * Under "prefer" the first try is MSE for a peer said to prefer encryption (PEX `added.f`
 * 0x01), else what the peer book remembers worked with this peer, else MSE; a failed try
 * is repeated once the other way (`worthRetry`). Under "require" only MSE offering RC4
 * alone; under "disable" only plaintext.
 */
import { Duration, Effect, Result } from "effect"
import { type PeerKey, peerKey } from "../ids.ts"
import { initiate, type MseError } from "../mse/index.ts"
import { type Address, type Connection, formatAddress } from "../net/index.ts"
import { handshakeOutgoing, type OurHandshake, PeerError } from "../peer/index.ts"
import { encodeHandshake, type Handshake, makeFramer } from "../wire/index.ts"
import type { TorrentConfig } from "./config.ts"
import type { Opening, PeerBook } from "./peer-book.ts"

/**
 * What opening a connection needs from its torrent (or from a magnet link's metadata
 * fetch, which has no torrent yet: only the book's memory of openings is used).
 */
export interface OpenPeerDeps {
  readonly config: Pick<TorrentConfig, "dial" | "handshakeTimeoutMillis" | "encryption">
  readonly ours: OurHandshake
  readonly book: Pick<PeerBook, "openingOf" | "opened" | "prefersEncryption">
}

export interface OpenedPeer {
  readonly conn: Connection
  readonly framer: ReturnType<typeof makeFramer>
  readonly handshake: Handshake
  readonly opening: Opening
  /** "rc4", "plaintext-negotiated" (MSE settled on plaintext) or "none" (a plaintext handshake). */
  readonly encryption: "rc4" | "plaintext-negotiated" | "none"
}

type Stage = "connect" | "mse" | "handshake"

const mseToPeer = (peer: string) => (e: MseError) =>
  new PeerError({
    reason: e.reason === "Timeout" ? "Timeout" : e.reason === "Network" ? "Network" : "Handshake",
    peer,
    detail: e.message
  })

/** One try with `opening`; `progress.stage` says how far it got, for the retry decision. */
const attempt = (deps: OpenPeerDeps, address: Address, opening: Opening) => {
  const progress: { stage: Stage } = { stage: "connect" }
  const effect = Effect.gen(function*() {
    const { dial, handshakeTimeoutMillis } = deps.config
    const framer = makeFramer()
    const raw = yield* dial(address, deps.ours.infoHash)
    const timeout = Duration.millis(handshakeTimeoutMillis)
    const opened = Effect.gen(function*() {
      let conn: Connection = raw
      let encryption: OpenedPeer["encryption"] = "none"
      if (opening === "mse") {
        progress.stage = "mse"
        const mse = yield* initiate(raw, {
          skey: deps.ours.infoHash,
          ia: encodeHandshake(deps.ours),
          policy: deps.config.encryption === "require" ? "require" : "prefer",
          stepTimeout: timeout
        }).pipe(Effect.mapError(mseToPeer(formatAddress(address))))
        conn = mse.connection
        encryption = mse.method === "rc4" ? "rc4" : "plaintext-negotiated"
      }
      progress.stage = "handshake"
      const handshake = yield* handshakeOutgoing(conn, framer, deps.ours, timeout, opening === "mse")
      return { conn, framer, handshake, opening, encryption } satisfies OpenedPeer
    })
    // a failed try's connection is closed before a retry opens another
    return yield* opened.pipe(Effect.onError(() => raw.close))
  })
  return { progress, effect }
}

/**
 * MSE failing other than by silence: a plaintext-only peer reads our 96+ bytes of key as a
 * bad handshake and closes at once, so silence means a dead peer, not worth a second wait.
 * A plaintext handshake meeting a close or silence: a peer that insists on encryption
 * closes, or waits for the rest of what it takes for a 96-byte key.
 */
const worthRetry = (stage: Stage, opening: Opening, e: PeerError): boolean =>
  (stage === "mse" && e.reason !== "Timeout") ||
  (stage === "handshake" && opening === "plain" && (e.reason === "Network" || e.reason === "Timeout"))

const firstOpening = (deps: OpenPeerDeps, key: PeerKey): Opening => {
  const policy = deps.config.encryption
  if (policy === "disable") return "plain"
  if (policy === "require") return "mse"
  // PEX's "prefers encryption" (added.f 0x01) outranks a plaintext success remembered earlier
  return deps.book.prefersEncryption(key) ? "mse" : deps.book.openingOf(key) ?? "mse"
}

/** Connects to `address` and completes the handshakes; the book learns which opening worked. */
export const openPeer = (deps: OpenPeerDeps, address: Address) =>
  Effect.gen(function*() {
    const key = peerKey(address)
    let opening = firstOpening(deps, key)
    const first = attempt(deps, address, opening)
    let result = yield* Effect.result(first.effect)
    if (Result.isFailure(result) && deps.config.encryption === "prefer" && worthRetry(first.progress.stage, opening, result.failure)) {
      yield* Effect.logDebug(`peer ${key}: ${result.failure.detail}; retrying ${opening === "mse" ? "in plaintext" : "with encryption"}`)
      opening = opening === "mse" ? "plain" : "mse"
      result = yield* Effect.result(attempt(deps, address, opening).effect)
    }
    if (Result.isFailure(result)) return yield* result.failure
    deps.book.opened(key, opening)
    return result.success
  })
