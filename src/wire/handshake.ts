import { Result } from "effect"
import { WireError } from "./errors.ts"

/** BEP 3 handshake: <pstrlen=19><"BitTorrent protocol"><8 reserved><20 info-hash><20 peer id>. */
export const PROTOCOL = "BitTorrent protocol"
export const HANDSHAKE_LENGTH = 68
/** pstrlen + pstr + reserved + info-hash: enough to route an incoming connection (BEP 3: answer on the info-hash). */
export const HANDSHAKE_HEADER_LENGTH = 48

const PSTR = new TextEncoder().encode(PROTOCOL)

export interface HandshakeHeader {
  readonly reserved: Uint8Array
  readonly infoHash: Uint8Array
}

export interface Handshake extends HandshakeHeader {
  readonly peerId: Uint8Array
}

/** Reserved-bit capabilities we understand. */
export interface Capabilities {
  /** BEP 10: reserved[5] & 0x10 */
  readonly extensionProtocol?: boolean
  /** BEP 6: reserved[7] & 0x04 */
  readonly fast?: boolean
  /** BEP 5: reserved[7] & 0x01 */
  readonly dht?: boolean
  /** BEP 52: reserved[7] & 0x10, the peer speaks v2 (hash requests) */
  readonly v2?: boolean
}

export const makeReserved = (caps: Capabilities): Uint8Array => {
  const r = new Uint8Array(8)
  if (caps.extensionProtocol === true) r[5] = 0x10
  if (caps.fast === true) r[7] = (r[7] ?? 0) | 0x04
  if (caps.dht === true) r[7] = (r[7] ?? 0) | 0x01
  if (caps.v2 === true) r[7] = (r[7] ?? 0) | 0x10
  return r
}

const bit = (reserved: Uint8Array, byte: number, mask: number): boolean => ((reserved[byte] ?? 0) & mask) !== 0

export const supportsExtensionProtocol = (reserved: Uint8Array): boolean => bit(reserved, 5, 0x10)
export const supportsFast = (reserved: Uint8Array): boolean => bit(reserved, 7, 0x04)
export const supportsDht = (reserved: Uint8Array): boolean => bit(reserved, 7, 0x01)
export const supportsV2 = (reserved: Uint8Array): boolean => bit(reserved, 7, 0x10)

export const capabilities = (reserved: Uint8Array): Required<Capabilities> => ({
  extensionProtocol: supportsExtensionProtocol(reserved),
  fast: supportsFast(reserved),
  dht: supportsDht(reserved),
  v2: supportsV2(reserved)
})

/**
 * Encodes a handshake. Lengths are a programming contract (our own ids and hashes),
 * so a wrong length is a defect rather than a WireError.
 */
export const encodeHandshake = (h: {
  readonly infoHash: Uint8Array
  readonly peerId: Uint8Array
  readonly reserved?: Uint8Array
}): Uint8Array => {
  const reserved = h.reserved ?? new Uint8Array(8)
  if (h.infoHash.length !== 20 || h.peerId.length !== 20 || reserved.length !== 8) {
    throw new RangeError(
      `handshake needs a 20-byte info-hash, 20-byte peer id, 8 reserved bytes; got ${h.infoHash.length}/${h.peerId.length}/${reserved.length}`
    )
  }
  const out = new Uint8Array(HANDSHAKE_LENGTH)
  out[0] = PSTR.length
  out.set(PSTR, 1)
  out.set(reserved, 20)
  out.set(h.infoHash, 28)
  out.set(h.peerId, 48)
  return out
}

const badHandshake = (message: string) => new WireError({ reason: "BadHandshake", message })

/**
 * Checks only as much of the header as `bytes` holds (a prefix of at most 48 bytes), so a
 * connection can be rejected on its first byte instead of waiting for 68.
 */
export const checkHandshakePrefix = (bytes: Uint8Array): WireError | undefined => {
  if (bytes.length === 0) return undefined
  if (bytes[0] !== PSTR.length) return badHandshake(`handshake: pstrlen must be 19, got ${bytes[0]}`)
  const end = Math.min(bytes.length, 1 + PSTR.length)
  for (let i = 1; i < end; i++) {
    if (bytes[i] !== PSTR[i - 1]) return badHandshake(`handshake: protocol string is not "${PROTOCOL}"`)
  }
  return undefined
}

/** Decodes the first 48 bytes (pstr, reserved, info-hash). Fields are copies: safe to keep. */
export const decodeHandshakeHeader = (bytes: Uint8Array): Result.Result<HandshakeHeader, WireError> => {
  if (bytes.length !== HANDSHAKE_HEADER_LENGTH && bytes.length !== HANDSHAKE_LENGTH) {
    return Result.fail(badHandshake(`handshake header: expected 48 or 68 bytes, got ${bytes.length}`))
  }
  const err = checkHandshakePrefix(bytes)
  if (err !== undefined) return Result.fail(err)
  return Result.succeed({ reserved: bytes.slice(20, 28), infoHash: bytes.slice(28, 48) })
}

/** Decodes a full 68-byte handshake. Fields are copies: safe to keep. */
export const decodeHandshake = (bytes: Uint8Array): Result.Result<Handshake, WireError> => {
  if (bytes.length !== HANDSHAKE_LENGTH) {
    return Result.fail(badHandshake(`handshake: expected 68 bytes, got ${bytes.length}`))
  }
  return Result.map(decodeHandshakeHeader(bytes), (h) => ({ ...h, peerId: bytes.slice(48, 68) }))
}
