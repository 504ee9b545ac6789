/**
 * Runs an MSE handshake machine over a `Connection`: the effects (reads, writes, a
 * time-out on every step, randomness) around the pure machines of initiator.ts and
 * responder.ts. The result is the encrypted (or, if so selected, plaintext) stream as
 * another `Connection`.
 */
import { Duration, Effect } from "effect"
import type { Connection, NetError } from "../net/index.ts"
import { encryptedConnection } from "./connection.ts"
import { KEY_LENGTH, PRIVATE_KEY_LENGTH } from "./dh.ts"
import { MseEntropy } from "./entropy.ts"
import { MseError } from "./errors.ts"
import { makeInitiator } from "./initiator.ts"
import { MAX_PAD, type Method, type MseMachine } from "./machine.ts"
import { classifyOpening } from "./opening.ts"
import { type EncryptionPolicy, provideFor, selectFor } from "./policy.ts"
import { makeResponder } from "./responder.ts"

/** The spec's "about 30 s" of silence at any step. */
export const DEFAULT_STEP_TIMEOUT: Duration.Input = "30 seconds"

export interface Encrypted {
  /** The stream after the handshake: the peer session reads and writes this. */
  readonly connection: Connection
  readonly method: Method
  /** The info-hash the handshake named (the responder learns it here). */
  readonly skey: Uint8Array
}

const networkError = (e: NetError) => new MseError({ reason: "Network", detail: e.message })

/** One read, bounded by the step time-out. */
const readStep = (conn: Connection, what: string, timeout: Duration.Input) =>
  conn.read.pipe(
    Effect.mapError(networkError),
    Effect.timeoutOrElse({
      duration: timeout,
      orElse: () => Effect.fail(new MseError({ reason: "Timeout", detail: `no ${what} within ${Duration.format(Duration.fromInputUnsafe(timeout))}` }))
    })
  )

/**
 * The initiator's PadA is at least this long, so its opening (96 + PadA bytes) covers the
 * longest plaintext handshake a peer could read it as (pstrlen 255: 1 + 255 + 48 = 304
 * bytes). A peer that speaks only plaintext then always has enough to reject it and close,
 * instead of waiting for bytes that never come: the dialler retries in plaintext after a
 * close, and takes silence for a dead peer.
 */
export const MIN_INITIATOR_PAD = 304 - KEY_LENGTH

/** Random private key and a pad of random length `minPad`..512. */
const keyAndPad = (minPad: number) =>
  Effect.gen(function*() {
    const entropy = yield* MseEntropy
    const bytes = yield* entropy(PRIVATE_KEY_LENGTH + 2)
    const draw = ((bytes[PRIVATE_KEY_LENGTH] ?? 0) << 8) | (bytes[PRIVATE_KEY_LENGTH + 1] ?? 0)
    const padLength = minPad + (draw % (MAX_PAD - minPad + 1))
    return { privateKey: bytes.subarray(0, PRIVATE_KEY_LENGTH), pad: yield* entropy(padLength) }
  })

const run = (conn: Connection, machine: MseMachine, first: Uint8Array | undefined, stepTimeout: Duration.Input) =>
  Effect.gen(function*() {
    let chunk = first ?? (yield* readStep(conn, machine.phase(), stepTimeout))
    while (true) {
      const step = machine.receive(chunk)
      if (step._tag === "Failed") return yield* step.error
      if (step.send.length > 0) yield* conn.writeV(step.send).pipe(Effect.mapError(networkError))
      if (step._tag === "Done") {
        const { outcome } = step
        return { connection: encryptedConnection(conn, outcome), method: outcome.method, skey: outcome.skey } satisfies Encrypted
      }
      chunk = yield* readStep(conn, machine.phase(), stepTimeout)
    }
  })

export interface InitiateOptions {
  /** The torrent's info-hash (v1, or v2 truncated). */
  readonly skey: Uint8Array
  /** Sent inside the handshake (step 3): our BitTorrent handshake. */
  readonly ia: Uint8Array
  /** "prefer" offers RC4 and plaintext, "require" RC4 only. */
  readonly policy: Exclude<EncryptionPolicy, "disable">
  readonly stepTimeout?: Duration.Input
}

/**
 * Opens MSE on an outgoing connection and returns the stream after it; `ia` (our
 * BitTorrent handshake) has then been sent. Fails with `MseError`; the caller closes.
 */
export const initiate = Effect.fn("Mse.initiate")(function*(conn: Connection, options: InitiateOptions) {
  const { privateKey, pad } = yield* keyAndPad(MIN_INITIATOR_PAD)
  const { opening, machine } = makeInitiator({
    privateKey,
    padA: pad,
    padC: new Uint8Array(0),
    skey: options.skey,
    provide: provideFor(options.policy),
    ia: options.ia
  })
  yield* conn.write(opening).pipe(Effect.mapError(networkError))
  return yield* run(conn, machine, undefined, options.stepTimeout ?? DEFAULT_STEP_TIMEOUT)
})

export interface RespondOptions {
  /** The info-hash whose `HASH('req2', SKEY)` this is, among the torrents we serve. */
  readonly findSkey: (req2Hash: Uint8Array) => Uint8Array | undefined
  readonly policy: Exclude<EncryptionPolicy, "disable">
  readonly stepTimeout?: Duration.Input
}

/**
 * Answers an incoming MSE opening. `opening` is what was read to classify the connection
 * (`readOpening`). The stream returned starts with the peer's IA (normally its
 * BitTorrent handshake).
 */
export const respond = Effect.fn("Mse.respond")(function*(conn: Connection, opening: Uint8Array, options: RespondOptions) {
  const { privateKey, pad } = yield* keyAndPad(0)
  const machine = makeResponder({
    privateKey,
    padB: pad,
    padD: new Uint8Array(0),
    findSkey: options.findSkey,
    select: selectFor(options.policy)
  })
  return yield* run(conn, machine, opening.length > 0 ? opening : undefined, options.stepTimeout ?? DEFAULT_STEP_TIMEOUT)
})

/**
 * Reads an incoming connection's first bytes until they tell a plaintext BitTorrent
 * handshake from an MSE opening (at most 20 bytes are needed; a single chunk usually does).
 * The bytes read are returned for whoever handles the connection next.
 */
export const readOpening = (conn: Connection, timeout: Duration.Input) =>
  Effect.gen(function*() {
    let bytes = yield* readStep(conn, "opening", timeout)
    while (true) {
      const kind = classifyOpening(bytes)
      if (kind !== "undecided") return { kind, bytes }
      bytes = Buffer.concat([bytes, yield* readStep(conn, "opening", timeout)])
    }
  })
