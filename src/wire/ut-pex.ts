/**
 * BEP 11 `ut_pex` messages: peers added and dropped since the last message, in compact
 * form (6 bytes per IPv4 peer, 18 per IPv6 peer). Pure codec.
 */
import { Result } from "effect"
import { decode, encode, getBytes, isDict } from "../bencode/index.ts"
import { compactLength, type CompactFamily, decodeCompact, decodeCompactList, encodeCompact, encodeCompactList } from "../net/address.ts"
import type { Address } from "../net/Network.ts"
import { WireError } from "./errors.ts"

/**
 * An added peer with its BEP 11 flags (`added.f`), when any is set: 0x01 prefers
 * encryption, 0x02 seed, 0x04 supports uTP, 0x08 supports ut_holepunch, 0x10 reachable.
 */
export interface PexPeer extends Address {
  readonly flags?: number
}

/** BEP 11 flag: the peer supports uTP. */
export const PEX_UTP = 0x04

/** BEP 11 flag: the peer prefers encryption (MSE/PE). */
export const PEX_PREFERS_ENCRYPTION = 0x01

export interface PexMessage {
  readonly added: ReadonlyArray<PexPeer>
  readonly dropped: ReadonlyArray<Address>
}

/** BEP 11 suggests at most 50 added and 50 dropped per message; we accept a little more. */
export const PEX_MAX_PEERS = 200

const fail = (message: string) =>
  Result.fail(new WireError({ reason: "BadExtensionMessage", messageId: 20, message: `ut_pex: ${message}` }))

const compact = (bytes: Uint8Array | undefined, family: CompactFamily): Array<Address> =>
  bytes === undefined ? [] : decodeCompactList(bytes, family, PEX_MAX_PEERS)

/** Added peers with their flags: the i-th flag byte goes with the i-th entry (port-0 ones too). */
const addedWithFlags = (bytes: Uint8Array | undefined, family: CompactFamily, flags: Uint8Array | undefined): Array<PexPeer> => {
  const out: Array<PexPeer> = []
  if (bytes === undefined) return out
  const width = compactLength(family)
  for (let at = 0, i = 0; at + width <= bytes.length && out.length < PEX_MAX_PEERS; at += width, i++) {
    const address = decodeCompact(bytes, at, family)
    const f = flags?.[i] ?? 0
    if (address !== undefined) out.push(f === 0 ? address : { ...address, flags: f })
  }
  return out
}

export const decodeUtPex = (payload: Uint8Array): Result.Result<PexMessage, WireError> => {
  const decoded = decode(payload, { maxDepth: 4, maxElements: 64 })
  if (Result.isFailure(decoded)) return fail(`not valid bencode: ${decoded.failure.message}`)
  const dict = decoded.success
  if (!isDict(dict)) return fail("expected a dict")
  return Result.succeed({
    added: [
      ...addedWithFlags(getBytes(dict, "added"), 4, getBytes(dict, "added.f")),
      ...addedWithFlags(getBytes(dict, "added6"), 6, getBytes(dict, "added6.f"))
    ].slice(0, PEX_MAX_PEERS),
    dropped: [...compact(getBytes(dict, "dropped"), 4), ...compact(getBytes(dict, "dropped6"), 6)].slice(0, PEX_MAX_PEERS)
  })
}

/**
 * Encodes IPv4 peers in `added`/`dropped` and IPv6 peers in `added6`/`dropped6` (host names
 * have no compact form), with each added peer's flags in `added.f`/`added6.f`.
 */
export const encodeUtPex = (m: PexMessage): Uint8Array => {
  const added = encodeCompactList(m.added, 4)
  const added6 = encodeCompactList(m.added, 6)
  const dropped6 = encodeCompactList(m.dropped, 6)
  // one flag byte per entry the compact list kept, in its order
  const flagsOf = (family: CompactFamily) =>
    Uint8Array.from(m.added.filter((p) => encodeCompact(p, family) !== undefined), (p) => p.flags ?? 0)
  return encode({
    added,
    "added.f": flagsOf(4),
    dropped: encodeCompactList(m.dropped, 4),
    ...(added6.length === 0 ? {} : { added6, "added6.f": flagsOf(6) }),
    ...(dropped6.length === 0 ? {} : { dropped6 })
  })
}
