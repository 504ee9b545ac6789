import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import {
  decodeCompact,
  decodeCompactList,
  encodeCompact,
  encodeCompactList,
  formatAddress,
  ipBytes,
  ipFamily,
  isLocalNetwork,
  isLoopback,
  parseAddress
} from "../src/net/address.ts"

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."))
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((s) => s.map((g) => g.toString(16)).join(":"))
const port = fc.integer({ min: 1, max: 0xffff })

describe("net/address: the one home of host:port and IP parsing", () => {
  it("parseAddress: host:port and [v6]:port, names and IPs normalised, port 1-65535", () => {
    assert.deepStrictEqual(parseAddress("127.0.0.1:6881"), { host: "127.0.0.1", port: 6881 })
    assert.deepStrictEqual(parseAddress(" [2001:DB8:0:0:0:0:0:1]:80 "), { host: "2001:db8::1", port: 80 })
    assert.deepStrictEqual(parseAddress("Router.BitTorrent.com:6881"), { host: "router.bittorrent.com", port: 6881 })
    assert.deepStrictEqual(parseAddress("localhost:1"), { host: "localhost", port: 1 })
    for (const bad of ["", "host", "host:", ":80", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:08", "::1:80", "[1.2.3.4]:80", "[::1]", "a b:80", "1.2.3.4:80x"]) {
      assert.isUndefined(parseAddress(bad), bad)
    }
  })

  it("formatAddress and parseAddress are inverse for IP addresses", () => {
    fc.assert(fc.property(fc.oneof(ipv4, ipv6), port, (host, p) => {
      const parsed = parseAddress(formatAddress({ host, port: p }))
      assert.isDefined(parsed)
      if (parsed !== undefined) assert.deepStrictEqual(parseAddress(formatAddress(parsed)), parsed)
    }))
  })

  it("ipBytes: 4 or 16 bytes of an IP literal, undefined for a name or a malformed literal", () => {
    assert.deepStrictEqual(ipBytes("127.0.0.1"), Uint8Array.of(127, 0, 0, 1))
    assert.deepStrictEqual(ipBytes("::1"), Uint8Array.of(...Array<number>(15).fill(0), 1))
    assert.deepStrictEqual(ipBytes("2001:db8::ff00:42"), Uint8Array.of(0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0x42))
    for (const bad of ["tracker.example", "300.1.1.1", "1::2::3", "1.2.3", ""]) assert.isUndefined(ipBytes(bad), bad)
  })

  it("ipFamily and isLoopback: an IPv4-mapped IPv6 address is an IPv4 peer", () => {
    assert.strictEqual(ipFamily("10.0.0.1"), 4)
    assert.strictEqual(ipFamily("::ffff:10.0.0.1"), 4)
    assert.strictEqual(ipFamily("2001:db8::1"), 6)
    assert.isUndefined(ipFamily("example.org"))
    for (const host of ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1", "localhost"]) assert.isTrue(isLoopback(host), host)
    for (const host of ["10.0.0.1", "::2", "128.0.0.1", "example.org", "localhost.example"]) assert.isFalse(isLoopback(host), host)
  })

  it("isLocalNetwork: loopback, RFC 1918, link-local and unique-local, also IPv4-mapped; nothing public", () => {
    const local = ["127.0.0.1", "::1", "localhost", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.20",
      "169.254.7.7", "fe80::1", "fd12:3456::1", "fc00::9", "::ffff:192.168.0.2", "::ffff:10.0.0.1"]
    for (const host of local) assert.isTrue(isLocalNetwork(host), host)
    const remote = ["8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.64.0.1", "11.0.0.1",
      "2001:db8::1", "fec0::1", "::ffff:8.8.8.8", "example.org", ""]
    for (const host of remote) assert.isFalse(isLocalNetwork(host), host)
    const octet = fc.nat(255)
    fc.assert(fc.property(octet, octet, octet, (a, b, c) => {
      assert.isTrue(isLocalNetwork(`10.${a}.${b}.${c}`))
      assert.isTrue(isLocalNetwork(`192.168.${b}.${c}`))
      assert.strictEqual(isLocalNetwork(`172.${a}.${b}.${c}`), a >= 16 && a <= 31)
    }))
  })

  it("compact form: IPv4 6 bytes, IPv6 18 bytes, round trip; port 0 and the wrong family are left out", () => {
    fc.assert(fc.property(ipv4, port, (host, p) => {
      const bytes = encodeCompact({ host, port: p }, 4)
      assert.strictEqual(bytes?.length, 6)
      if (bytes !== undefined) assert.deepStrictEqual(decodeCompact(bytes, 0, 4), { host, port: p })
      assert.isUndefined(encodeCompact({ host, port: p }, 6))
    }))
    fc.assert(fc.property(ipv6, port, (host, p) => {
      const bytes = encodeCompact({ host, port: p }, 6)
      assert.strictEqual(bytes?.length, 18)
      const back = bytes === undefined ? undefined : decodeCompact(bytes, 0, 6)
      assert.deepStrictEqual(back === undefined ? undefined : ipBytes(back.host), ipBytes(host))
    }))
    assert.deepStrictEqual(encodeCompact({ host: "::ffff:10.1.2.3", port: 258 }, 4), Uint8Array.of(10, 1, 2, 3, 1, 2))
    assert.isUndefined(encodeCompact({ host: "10.1.2.3", port: 0 }, 4))
    assert.isUndefined(encodeCompact({ host: "example.org", port: 80 }, 4))
    assert.isUndefined(decodeCompact(Uint8Array.of(1, 2, 3, 4, 0, 0), 0, 4))
  })

  it("compact lists: unusable entries skipped both ways, at most `max` decoded", () => {
    const list = encodeCompactList(
      [{ host: "1.2.3.4", port: 1 }, { host: "::1", port: 2 }, { host: "5.6.7.8", port: 0 }, { host: "9.9.9.9", port: 3 }],
      4
    )
    assert.deepStrictEqual(list, Uint8Array.of(1, 2, 3, 4, 0, 1, 9, 9, 9, 9, 0, 3))
    assert.deepStrictEqual(decodeCompactList(list, 4), [{ host: "1.2.3.4", port: 1 }, { host: "9.9.9.9", port: 3 }])
    assert.deepStrictEqual(decodeCompactList(list, 4, 1), [{ host: "1.2.3.4", port: 1 }])
    assert.deepStrictEqual(decodeCompactList(Uint8Array.of(1, 2, 3, 4, 0, 0, 5, 6, 7, 8, 0, 9, 1, 2), 4), [{ host: "5.6.7.8", port: 9 }])
  })
})
