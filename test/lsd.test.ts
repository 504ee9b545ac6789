/**
 * Local Service Discovery (BEP 14): the codec. End to end: lsd-loopback.test.ts (real
 * multicast on 127.0.0.1) and sim-lsd.test.ts (the simulator, rate limits in virtual time).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import { toHex } from "../src/bytes.ts"
import { formatAnnounces, LSD_GROUP_V4, MAX_ANNOUNCE_BYTES, parseAnnounce } from "../src/lsd/index.ts"

const hex = (n: number) => n.toString(16).padStart(2, "0").repeat(20)

describe("LSD codec", () => {
  it("formats and reads an announce; unknown headers are ignored, bad ones refused", () => {
    const [datagram] = formatAnnounces(LSD_GROUP_V4, 6881, [hex(0xab)], "c00k1e")
    const text = new TextDecoder().decode(datagram)
    assert.strictEqual(text, `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${hex(0xab)}\r\ncookie: c00k1e\r\n\r\n\r\n`)
    assert.deepStrictEqual(parseAnnounce(datagram ?? new Uint8Array()), Result.succeed({ port: 6881, infoHashes: [hex(0xab)], cookie: "c00k1e" }))
    const other = new TextEncoder().encode(`BT-SEARCH * HTTP/1.1\r\nHost: x\r\nX-Thing: 1\r\nport: 7\r\nINFOHASH: ${hex(0xAB).toUpperCase()}\r\n\r\n\r\n`)
    assert.deepStrictEqual(parseAnnounce(other), Result.succeed({ port: 7, infoHashes: [hex(0xab)], cookie: null }))
    for (const bad of ["GET / HTTP/1.1\r\n", `BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: ${hex(1)}\r\n`, "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\nInfohash: 12\r\n", "BT-SEARCH * HTTP/1.1\r\nPort: 1\r\n"]) {
      assert.isTrue(Result.isFailure(parseAnnounce(new TextEncoder().encode(bad))), bad)
    }
  })

  it("property: many info-hashes pack into datagrams of at most 1400 bytes that read back to the same hashes", () => {
    fc.assert(fc.property(fc.uniqueArray(fc.uint8Array({ minLength: 20, maxLength: 20 }).map(toHex), { minLength: 1, maxLength: 80 }), fc.integer({ min: 1, max: 65535 }), (hashes, port) => {
      const datagrams = formatAnnounces(LSD_GROUP_V4, port, hashes, "k")
      const back: Array<string> = []
      for (const d of datagrams) {
        assert.isAtMost(d.length, MAX_ANNOUNCE_BYTES)
        const parsed = parseAnnounce(d)
        assert.isTrue(Result.isSuccess(parsed))
        if (Result.isSuccess(parsed)) back.push(...parsed.success.infoHashes)
      }
      assert.deepStrictEqual(back, hashes)
    }))
  })
})
