/** Pure DHT pieces: peer store caps and expiry, token rotation, token buckets, state file decoding, host:port parsing. */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import * as fc from "fast-check"
import * as Store from "../src/dht/peer-store.ts"
import { take } from "../src/dht/rate-limit.ts"
import { decodeState, encodeState } from "../src/dht/state.ts"
import * as Token from "../src/dht/token.ts"

const peer = (i: number) => ({ host: `10.0.${(i >> 8) & 0xff}.${i & 0xff}`, port: 1000 + (i % 60000) })

describe("peer store", () => {
  it("keeps at most MAX_PEERS_PER_HASH peers per info-hash (newest) and answers at most MAX_VALUES", () => {
    const store = Store.makePeerStore()
    for (let i = 0; i < Store.MAX_PEERS_PER_HASH + 25; i++) Store.storePeer(store, "h", peer(i), 0)
    assert.strictEqual(store.get("h")?.size, Store.MAX_PEERS_PER_HASH)
    const answer = Store.peersFor(store, "h", 0)
    assert.strictEqual(answer.length, Store.MAX_VALUES)
    assert.deepStrictEqual(answer[0], peer(Store.MAX_PEERS_PER_HASH + 24), "most recent first")
  })
  it("keeps at most MAX_INFO_HASHES info-hashes", () => {
    const store = Store.makePeerStore()
    for (let i = 0; i < Store.MAX_INFO_HASHES + 10; i++) Store.storePeer(store, `h${i}`, peer(1), 0)
    assert.strictEqual(store.size, Store.MAX_INFO_HASHES)
    assert.isFalse(store.has("h0"), "the oldest info-hash went first")
  })
  it("peers expire after PEER_TTL_MILLIS; re-announcing renews them", () => {
    const store = Store.makePeerStore()
    Store.storePeer(store, "h", peer(1), 0)
    Store.storePeer(store, "h", peer(2), 0)
    Store.storePeer(store, "h", peer(2), 1000)
    assert.deepStrictEqual(Store.peersFor(store, "h", Store.PEER_TTL_MILLIS), [peer(2)])
    assert.deepStrictEqual(Store.peersFor(store, "h", Store.PEER_TTL_MILLIS + 1000), [])
  })
})

describe("tokens", () => {
  const s0 = Token.initialSecrets(new Uint8Array(20).fill(1), 0)
  it("are bound to the IP", () => {
    const t = Token.tokenFor(s0, "127.0.0.1")
    assert.isTrue(Token.validToken(s0, "127.0.0.1", t))
    assert.isFalse(Token.validToken(s0, "127.0.0.2", t))
    assert.isFalse(Token.validToken(s0, "127.0.0.1", t.subarray(1)))
  })
  it("survive one rotation, not two; a long gap drops both secrets", () => {
    const t = Token.tokenFor(s0, "1.2.3.4")
    assert.isFalse(Token.needsRotation(s0, Token.ROTATE_MILLIS - 1))
    assert.isTrue(Token.needsRotation(s0, Token.ROTATE_MILLIS))
    const s1 = Token.rotate(s0, Token.ROTATE_MILLIS, new Uint8Array(20).fill(2))
    assert.isTrue(Token.validToken(s1, "1.2.3.4", t))
    const s2 = Token.rotate(s1, 2 * Token.ROTATE_MILLIS, new Uint8Array(20).fill(3))
    assert.isFalse(Token.validToken(s2, "1.2.3.4", t))
    const late = Token.rotate(s0, 2 * Token.ROTATE_MILLIS, new Uint8Array(20).fill(4))
    assert.isFalse(Token.validToken(late, "1.2.3.4", t))
  })
})

describe("token bucket", () => {
  it("never allows more than burst + rate x elapsed (property)", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 50 }),
      fc.integer({ min: 1, max: 50 }),
      fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 200 }),
      (perSecond, burst, gaps) => {
        const limit = { perSecond, burst }
        let bucket = { tokens: burst, updatedAt: 0 }
        let now = 0
        let allowed = 0
        for (const gap of gaps) {
          now += gap
          const r = take(bucket, limit, now)
          bucket = r.bucket
          if (r.allowed) allowed++
        }
        assert.isAtMost(allowed, burst + Math.floor(perSecond * now / 1000))
      }
    ))
  })
})

describe("state file", () => {
  it("round trips and rejects garbage without throwing", () => {
    const state = { id: new Uint8Array(20).fill(7), nodes: [{ id: new Uint8Array(20).fill(8), address: { host: "127.0.0.1", port: 6881 } }] }
    assert.deepStrictEqual(decodeState(encodeState(state)), Result.succeed(state))
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      assert.isTrue(Result.isFailure(decodeState(bytes)) || Result.isSuccess(decodeState(bytes)))
    }))
    assert.isTrue(Result.isFailure(decodeState(new Uint8Array(1_000_000))))
  })
})
