/**
 * MSE/PE (Message Stream Encryption, "protocol encryption"): the obfuscated BitTorrent
 * handshake and RC4 stream that libtorrent, Transmission, WebTorrent and others speak.
 *
 * **When to use**
 *
 * The dialler calls `initiate` on a fresh outgoing connection; the listener calls
 * `readOpening` on each incoming one and `respond` when it is not a plaintext handshake.
 * Both give back a `Connection`, so the peer session runs unchanged over it, whatever
 * transport (TCP, uTP, the simulator) sits below.
 *
 * **Details**
 *
 * - A pure core: the handshake machines (`makeInitiator`, `makeResponder`: bytes in, bytes
 *   out), RC4 (`makeRc4`), Diffie-Hellman on the 768-bit prime with 160-bit exponents,
 *   the key derivations, the policy (`EncryptionPolicy`).
 * - A small effectful edge: `initiate`, `respond`, `readOpening` (reads, writes, a
 *   time-out on every step) and `encryptedConnection`.
 * - Randomness comes from `MseEntropy` (secure by default; seeded in the simulator).
 *
 * **Example**
 *
 * ```ts
 * const { connection, method } = yield* initiate(conn, { skey: infoHash, ia: encodeHandshake(ours), policy: "prefer" })
 * ```
 */
export { encryptedConnection } from "./connection.ts"
export { KEY_LENGTH, PRIME_HEX, PRIVATE_KEY_LENGTH, publicKey, sharedSecret } from "./dh.ts"
export {
  DEFAULT_STEP_TIMEOUT,
  type Encrypted,
  initiate,
  type InitiateOptions,
  MIN_INITIATOR_PAD,
  readOpening,
  respond,
  type RespondOptions
} from "./driver.ts"
export { type Entropy, MseEntropy, seededEntropy } from "./entropy.ts"
export { MseError, MseErrorReason } from "./errors.ts"
export { type Initiator, type InitiatorParams, makeInitiator } from "./initiator.ts"
export { keyA, keyB, obfuscatedSkey, req1, req2, revealReq2 } from "./keys.ts"
export {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  MAX_PAD,
  type Method,
  type MseMachine,
  type MseOutcome,
  type MseStep,
  VC_LENGTH
} from "./machine.ts"
export { classifyOpening, OPENING_LENGTH } from "./opening.ts"
export { ENCRYPTION_POLICIES, type EncryptionPolicy, provideFor, selectFor } from "./policy.ts"
export { makeMseCipher, makeRc4, MSE_DISCARD, type Rc4 } from "./rc4.ts"
export { makeResponder, type ResponderParams } from "./responder.ts"
