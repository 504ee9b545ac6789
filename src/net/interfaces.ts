/**
 * This machine's own addresses, for telling trackers where IPv6 peers can reach us (BEP 7
 * `ipv6=`): a tracker reached over IPv4 sees only our IPv4 address.
 */
import * as Os from "node:os"
import { parseIp } from "./address.ts"

export interface InterfaceAddress {
  readonly address: string
  readonly family: string
  readonly internal: boolean
}

/**
 * The first global unicast IPv6 among `addresses` (2000::/3): not loopback, link-local,
 * unique-local or IPv4-mapped, none of which a peer elsewhere could dial. Pure.
 */
export const pickGlobalIpv6 = (addresses: ReadonlyArray<InterfaceAddress>): string | undefined => {
  for (const a of addresses) {
    if (a.internal || a.family !== "IPv6") continue
    const ip = parseIp(a.address)
    if (ip === undefined) continue
    const first = Number.parseInt(a.address.split(":")[0] ?? "", 16)
    // 2000::/3: the first 16-bit group is 0x2000-0x3fff
    if (first >= 0x2000 && first <= 0x3fff) return a.address.toLowerCase()
  }
  return undefined
}

/** This machine's global IPv6 address, if it has one (node:os). */
export const globalIpv6 = (): string | undefined =>
  pickGlobalIpv6(Object.values(Os.networkInterfaces()).flatMap((list) => list ?? []))
