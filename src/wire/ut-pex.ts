/**
 * BEP 11 `ut_pex` messages: peers added and dropped since the last message, in compact
 * form (6 bytes per IPv4 peer, 18 per IPv6 peer). Pure codec.
 */
import { Result } from "effect"
import { decode, encode, getBytes, isDict } from "../bencode/index.ts"
import { WireError } from "./errors.ts"

export interface PexAddress {
  readonly host: string
  readonly port: number
}

export interface PexMessage {
  readonly added: ReadonlyArray<PexAddress>
  readonly dropped: ReadonlyArray<PexAddress>
}

/** BEP 11 suggests at most 50 added and 50 dropped per message; we accept a little more. */
export const PEX_MAX_PEERS = 200

const fail = (message: string) =>
  Result.fail(new WireError({ reason: "BadExtensionMessage", messageId: 20, message: `ut_pex: ${message}` }))

const ipv6Text = (b: Uint8Array, at: number): string => {
  const groups: Array<string> = []
  for (let i = 0; i < 16; i += 2) groups.push((((b[at + i] ?? 0) << 8) | (b[at + i + 1] ?? 0)).toString(16))
  return groups.join(":")
}

const compact = (bytes: Uint8Array | undefined, size: 6 | 18): Array<PexAddress> => {
  const out: Array<PexAddress> = []
  if (bytes === undefined) return out
  for (let at = 0; at + size <= bytes.length && out.length < PEX_MAX_PEERS; at += size) {
    const host = size === 6
      ? `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`
      : ipv6Text(bytes, at)
    const port = ((bytes[at + size - 2] ?? 0) << 8) | (bytes[at + size - 1] ?? 0)
    if (port > 0) out.push({ host, port })
  }
  return out
}

export const decodeUtPex = (payload: Uint8Array): Result.Result<PexMessage, WireError> => {
  const decoded = decode(payload, { maxDepth: 4, maxElements: 64 })
  if (Result.isFailure(decoded)) return fail(`not valid bencode: ${decoded.failure.message}`)
  const dict = decoded.success
  if (!isDict(dict)) return fail("expected a dict")
  return Result.succeed({
    added: [...compact(getBytes(dict, "added"), 6), ...compact(getBytes(dict, "added6"), 18)].slice(0, PEX_MAX_PEERS),
    dropped: [...compact(getBytes(dict, "dropped"), 6), ...compact(getBytes(dict, "dropped6"), 18)].slice(0, PEX_MAX_PEERS)
  })
}

const ipv4Bytes = (host: string): Array<number> | undefined => {
  const parts = host.split(".").map(Number)
  return parts.length === 4 && parts.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? parts : undefined
}

/** Encodes the IPv4 peers (IPv6 peers are left out: BEP 11's `added6` is optional). */
export const encodeUtPex = (m: PexMessage): Uint8Array => {
  const pack = (peers: ReadonlyArray<PexAddress>) => {
    const bytes: Array<number> = []
    for (const p of peers) {
      const ip = ipv4Bytes(p.host)
      if (ip !== undefined) bytes.push(...ip, (p.port >> 8) & 0xff, p.port & 0xff)
    }
    return new Uint8Array(bytes)
  }
  const added = pack(m.added)
  return encode({ added, "added.f": new Uint8Array(added.length / 6), dropped: pack(m.dropped) })
}
