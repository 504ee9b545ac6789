/**
 * Addresses as text and as bytes, in one place, on `effect/net`'s `NetAddress` and `Host`.
 *
 * **When to use**
 *
 * - `parseAddress` for every `host:port` a user, a magnet link or a config gives us;
 * - `formatAddress` for the one text form of an `Address` (`host:port`, `[v6]:port`): the
 *   key peers are known by;
 * - `ipBytes` for an IP literal as 4 or 16 bytes (BEP 10's `yourip`);
 * - `decodeCompact` / `decodeCompactList` / `encodeCompact` / `encodeCompactList` for the
 *   compact peer form shared by trackers (BEP 23, BEP 7), PEX (BEP 11) and the DHT (BEP 5):
 *   the IP in network order, then the port.
 *
 * **Details**
 *
 * Text is normalised the way `effect/net` does it: IPv6 compressed and lower case (RFC 5952),
 * domain names lower case. IPv4 addresses leave and enter the compact IPv4 form also when
 * they are written IPv4-mapped (`::ffff:1.2.3.4`, what a dual-stack socket reports). Port 0
 * is never a usable peer address: parsers and decoders drop it.
 *
 * **Example**
 *
 * ```ts
 * import { decodeCompact, encodeCompact, formatAddress, parseAddress } from "./address.ts"
 * const a = parseAddress("[2001:DB8::1]:6881") // { host: "2001:db8::1", port: 6881 }
 * formatAddress(a!) // "[2001:db8::1]:6881"
 * decodeCompact(encodeCompact({ host: "10.0.0.1", port: 80 }, 4)!, 0, 4) // { host: "10.0.0.1", port: 80 }
 * ```
 */
import { Option, Result } from "effect"
import * as Host from "effect/net/Host"
import * as NetAddress from "effect/net/NetAddress"
import type { Address } from "./Network.ts"

/** `host:port`, with brackets around IPv6 hosts. */
export const formatAddress = (address: Address): string =>
  address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`

/** A port a peer or a tracker can be reached at: an integer from 1 to 65535 (0, "any", is for listening only). */
export const isValidPort = (port: number): boolean => Number.isInteger(port) && port > 0 && port <= 0xffff

/**
 * `host:port` or `[v6]:port` (surrounding blanks ignored), the host an IP literal or a
 * domain name, the port 1 to 65535; undefined for anything else.
 */
export const parseAddress = (text: string): Address | undefined => {
  const parsed = Host.hostPortFromString(text.trim())
  if (Result.isFailure(parsed) || !isValidPort(parsed.success.port)) return undefined
  return { host: Host.formatHost(parsed.success.host), port: parsed.success.port }
}

/** Hosts parsed lately (null: not an IP literal); emptied when full. */
const parsedIps = new Map<string, NetAddress.IpAddress | null>()
const PARSED_IPS_MAX = 4096

/**
 * An IP literal's address; undefined for a host name or anything malformed. Remembered: the
 * same few thousand peer addresses are parsed again for every compact peer list (tracker
 * replies, PEX) and every dial, and a parse is a split, regexes and an object (1.3 % of
 * the CPU of a 200-peer simulation, profiled); an `IpAddress` is immutable.
 */
export const parseIp = (host: string): NetAddress.IpAddress | undefined => {
  const known = parsedIps.get(host)
  if (known !== undefined) return known ?? undefined
  const ip = Result.getOrUndefined(NetAddress.ipFromString(host))
  if (parsedIps.size >= PARSED_IPS_MAX) parsedIps.clear()
  parsedIps.set(host, ip ?? null)
  return ip
}

/** An IP literal as 4 (IPv4) or 16 (IPv6) bytes; undefined for a host name. */
export const ipBytes = (host: string): Uint8Array | undefined => {
  const ip = parseIp(host)
  if (ip === undefined) return undefined
  return Uint8Array.from(NetAddress.isIpv4Address(ip) ? NetAddress.ipv4ToOctets(ip) : NetAddress.ipv6ToOctets(ip))
}

/** IPv4 (6 bytes a peer) or IPv6 (18 bytes a peer). */
export type CompactFamily = 4 | 6

/** 4 or 6 for an IP literal (an IPv4-mapped IPv6 is 4: it is an IPv4 peer); undefined for a host name. */
export const ipFamily = (host: string): CompactFamily | undefined => {
  const ip = parseIp(host)
  if (ip === undefined) return undefined
  return NetAddress.isIpv4Address(ip) || Option.isSome(NetAddress.fromIpv4Mapped(ip)) ? 4 : 6
}

/**
 * The wildcard a client listens on by default: every IPv6 and, dual-stack, every IPv4
 * interface. Where the machine has no IPv6 the listeners fall back to `ANY_IPV4`.
 */
export const ANY_HOST = "::"
export const ANY_IPV4 = "0.0.0.0"

/** A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6 (`::ffff:a.b.c.d`); peers know them by their IPv4. */
export const unmapIpv4 = (host: string): string => {
  if (!host.toLowerCase().startsWith("::ffff:")) return host
  const v4 = host.slice(7)
  const ip = parseIp(v4)
  return ip !== undefined && NetAddress.isIpv4Address(ip) ? v4 : host
}

/** Errors of binding `::` that mean "no IPv6 here", so binding 0.0.0.0 instead is right. */
export const NO_IPV6_ERRNOS: ReadonlySet<string> = new Set(["EAFNOSUPPORT", "EADDRNOTAVAIL", "EPROTONOSUPPORT"])

/** A loopback IP (127.0.0.0/8, ::1, IPv4-mapped loopback) or `localhost`. */
export const isLoopback = (host: string): boolean => {
  if (host.toLowerCase() === "localhost") return true
  const ip = parseIp(host)
  if (ip === undefined) return false
  const v4 = NetAddress.isIpv6Address(ip) ? Option.getOrUndefined(NetAddress.fromIpv4Mapped(ip)) : ip
  return NetAddress.isLoopback(v4 ?? ip)
}

/**
 * On this machine or its local network: loopback, RFC 1918 private IPv4, link-local
 * (169.254/16, fe80::/10) or IPv6 unique-local (fc00::/7), IPv4-mapped forms included.
 * Such a peer answers within milliseconds, so waiting long on one transport is wasted.
 */
export const isLocalNetwork = (host: string): boolean => {
  if (isLoopback(host)) return true
  const ip = parseIp(host)
  if (ip === undefined) return false
  const v4 = NetAddress.isIpv6Address(ip) ? Option.getOrUndefined(NetAddress.fromIpv4Mapped(ip)) : ip
  const any = v4 ?? ip
  if (NetAddress.isLinkLocal(any)) return true
  return NetAddress.isIpv4Address(any) ? NetAddress.isPrivate(any) : NetAddress.isUniqueLocal(any)
}

/** Bytes of one compact peer: the IP, then the port. */
export const compactLength = (family: CompactFamily): 6 | 18 => (family === 4 ? 6 : 18)

/** The address's IP in `family`'s form (an IPv4-mapped IPv6 counts as IPv4); undefined when it has none. */
const ipOf = (host: string, family: CompactFamily): NetAddress.IpAddress | undefined => {
  const ip = parseIp(host)
  if (ip === undefined) return undefined
  if (NetAddress.isIpv4Address(ip)) return family === 4 ? ip : undefined
  const v4 = NetAddress.fromIpv4Mapped(ip)
  if (Option.isSome(v4)) return family === 4 ? v4.value : undefined
  return family === 6 ? ip : undefined
}

/** Writes one compact peer at `offset`; false (nothing written) when the address has no such form. */
const writeCompact = (address: Address, family: CompactFamily, out: Uint8Array, offset: number): boolean => {
  const ip = isValidPort(address.port) ? ipOf(address.host, family) : undefined
  if (ip === undefined) return false
  out.set(NetAddress.isIpv4Address(ip) ? NetAddress.ipv4ToOctets(ip) : NetAddress.ipv6ToOctets(ip), offset)
  const at = offset + compactLength(family) - 2
  out[at] = address.port >> 8
  out[at + 1] = address.port & 0xff
  return true
}

/** One peer in compact form; undefined when it is not an IP of that family with a usable port. */
export const encodeCompact = (address: Address, family: CompactFamily): Uint8Array | undefined => {
  const out = new Uint8Array(compactLength(family))
  return writeCompact(address, family, out, 0) ? out : undefined
}

/** Peers in compact form, back to back; those without that form are left out. */
export const encodeCompactList = (addresses: Iterable<Address>, family: CompactFamily): Uint8Array => {
  const width = compactLength(family)
  const list = [...addresses]
  const out = new Uint8Array(list.length * width)
  let at = 0
  for (const address of list) if (writeCompact(address, family, out, at)) at += width
  return out.subarray(0, at)
}

/** The compact peer at `offset` (the caller checked there are enough bytes); undefined for port 0. */
export const decodeCompact = (bytes: Uint8Array, offset: number, family: CompactFamily): Address | undefined => {
  const ipLength = compactLength(family) - 2
  const port = ((bytes[offset + ipLength] ?? 0) << 8) | (bytes[offset + ipLength + 1] ?? 0)
  if (port === 0) return undefined
  const ip = bytes.subarray(offset, offset + ipLength)
  return {
    host: NetAddress.formatIp(family === 4 ? NetAddress.ipv4FromBytesUnsafe(ip) : NetAddress.ipv6FromBytesUnsafe(ip)),
    port
  }
}

/** Up to `max` peers of a compact list; entries with port 0 and a trailing partial entry are skipped. */
export const decodeCompactList = (bytes: Uint8Array, family: CompactFamily, max = Infinity): Array<Address> => {
  const width = compactLength(family)
  const out: Array<Address> = []
  for (let at = 0; at + width <= bytes.length && out.length < max; at += width) {
    const address = decodeCompact(bytes, at, family)
    if (address !== undefined) out.push(address)
  }
  return out
}
