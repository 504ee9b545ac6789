/**
 * BEP 11 `ut_pex` messages: peers added and dropped since the last message, in compact
 * form (6 bytes per IPv4 peer, 18 per IPv6 peer). Pure codec.
 */
import { Result } from "effect"
import { decode, encode, getBytes, isDict } from "../bencode/index.ts"
import { type CompactFamily, decodeCompactList, encodeCompactList } from "../net/address.ts"
import type { Address } from "../net/Network.ts"
import { WireError } from "./errors.ts"

export interface PexMessage {
  readonly added: ReadonlyArray<Address>
  readonly dropped: ReadonlyArray<Address>
}

/** BEP 11 suggests at most 50 added and 50 dropped per message; we accept a little more. */
export const PEX_MAX_PEERS = 200

const fail = (message: string) =>
  Result.fail(new WireError({ reason: "BadExtensionMessage", messageId: 20, message: `ut_pex: ${message}` }))

const compact = (bytes: Uint8Array | undefined, family: CompactFamily): Array<Address> =>
  bytes === undefined ? [] : decodeCompactList(bytes, family, PEX_MAX_PEERS)

export const decodeUtPex = (payload: Uint8Array): Result.Result<PexMessage, WireError> => {
  const decoded = decode(payload, { maxDepth: 4, maxElements: 64 })
  if (Result.isFailure(decoded)) return fail(`not valid bencode: ${decoded.failure.message}`)
  const dict = decoded.success
  if (!isDict(dict)) return fail("expected a dict")
  return Result.succeed({
    added: [...compact(getBytes(dict, "added"), 4), ...compact(getBytes(dict, "added6"), 6)].slice(0, PEX_MAX_PEERS),
    dropped: [...compact(getBytes(dict, "dropped"), 4), ...compact(getBytes(dict, "dropped6"), 6)].slice(0, PEX_MAX_PEERS)
  })
}

/** Encodes IPv4 peers in `added`/`dropped` and IPv6 peers in `added6`/`dropped6` (host names have no compact form). */
export const encodeUtPex = (m: PexMessage): Uint8Array => {
  const added = encodeCompactList(m.added, 4)
  const added6 = encodeCompactList(m.added, 6)
  const dropped6 = encodeCompactList(m.dropped, 6)
  return encode({
    added,
    "added.f": new Uint8Array(added.length / 6),
    dropped: encodeCompactList(m.dropped, 4),
    ...(added6.length === 0 ? {} : { added6, "added6.f": new Uint8Array(added6.length / 18) }),
    ...(dropped6.length === 0 ? {} : { dropped6 })
  })
}
