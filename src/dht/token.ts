/**
 * announce_peer tokens (BEP 5): SHA-1 of a secret and the querying IP,
 * truncated to 8 bytes. The secret rotates every 5 minutes and tokens made
 * with the current or previous secret are accepted, so a token lives 5-10
 * minutes and only works from the IP it was handed to.
 */
import { createHash } from "node:crypto"

export const ROTATE_MILLIS = 5 * 60_000
export const TOKEN_LENGTH = 8

export interface TokenSecrets {
  readonly current: Uint8Array
  readonly previous: Uint8Array
  readonly rotatedAt: number
}

export const initialSecrets = (secret: Uint8Array, now: number): TokenSecrets => ({
  current: secret,
  previous: secret,
  rotatedAt: now
})

export const needsRotation = (s: TokenSecrets, now: number): boolean => now - s.rotatedAt >= ROTATE_MILLIS

/** After two missed rotations the previous secret is also stale: both become `fresh`. */
export const rotate = (s: TokenSecrets, now: number, fresh: Uint8Array): TokenSecrets => ({
  current: fresh,
  previous: now - s.rotatedAt >= 2 * ROTATE_MILLIS ? fresh : s.current,
  rotatedAt: now
})

const make = (secret: Uint8Array, host: string): Uint8Array =>
  new Uint8Array(createHash("sha1").update(secret).update(host, "latin1").digest().subarray(0, TOKEN_LENGTH))

export const tokenFor = (s: TokenSecrets, host: string): Uint8Array => make(s.current, host)

const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i])

export const validToken = (s: TokenSecrets, host: string, token: Uint8Array): boolean =>
  token.length === TOKEN_LENGTH && (equal(token, make(s.current, host)) || equal(token, make(s.previous, host)))
