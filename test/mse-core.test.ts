/**
 * MSE's pure building blocks: RC4 against published test vectors, Diffie-Hellman against
 * BigInt arithmetic, the key derivations, the policy and the opening classifier.
 */
import { assert, describe, it } from "@effect/vitest"
import { createHash, randomBytes } from "node:crypto"
import * as fc from "fast-check"
import {
  classifyOpening,
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  keyA,
  makeMseCipher,
  makeRc4,
  obfuscatedSkey,
  provideFor,
  publicKey,
  req2,
  revealReq2,
  selectFor,
  sharedSecret
} from "../src/mse/index.ts"
import { encodeHandshake } from "../src/wire/index.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const ascii = (s: string) => new TextEncoder().encode(s)

const PRIME = BigInt(
  "0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563"
)
const modPow = (base: bigint, exp: bigint, mod: bigint): bigint => {
  let result = 1n
  let b = base % mod
  for (let e = exp; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) result = (result * b) % mod
    b = (b * b) % mod
  }
  return result
}
const toBig = (b: Uint8Array) => BigInt(`0x${hex(b) || "0"}`)
const to96 = (n: bigint) => n.toString(16).padStart(192, "0")

describe("RC4", () => {
  // Published test vectors (the RC4 article's examples, also in RFC 6229's style).
  const vectors: ReadonlyArray<[string, string, string]> = [
    ["Key", "Plaintext", "bbf316e8d940af0ad3"],
    ["Wiki", "pedia", "1021bf0420"],
    ["Secret", "Attack at dawn", "45a01f645fc35b383552544b9bf5"]
  ]
  for (const [key, plain, cipher] of vectors) {
    it(`encrypts "${plain}" with key "${key}"`, () => {
      const bytes = ascii(plain)
      makeRc4(ascii(key)).apply(bytes)
      assert.strictEqual(hex(bytes), cipher)
    })
  }

  it("RFC 6229: key 0102030405, keystream at offsets 0 and 1024", () => {
    const rc4 = makeRc4(Uint8Array.from([1, 2, 3, 4, 5]))
    const first = new Uint8Array(16)
    rc4.apply(first)
    assert.strictEqual(hex(first), "b2396305f03dc027ccc3524a0a1118a8")
    rc4.discard(1024 - 16)
    const at1024 = new Uint8Array(16)
    rc4.apply(at1024)
    assert.strictEqual(hex(at1024), "30abbcc7c20b01609f23ee2d5f6bb7df")
  })

  it("makeMseCipher drops the first 1024 bytes of keystream", () => {
    const key = randomBytes(20)
    const plain = makeRc4(key)
    plain.discard(1024)
    const a = new Uint8Array(64)
    const b = new Uint8Array(64)
    plain.apply(a)
    makeMseCipher(key).apply(b)
    assert.strictEqual(hex(a), hex(b))
  })

  it("in place, into another buffer, and in ranges: the same keystream however the bytes are cut", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat({ max: 3000 })), (key, data, cuts) => {
      const whole = Uint8Array.from(data)
      makeRc4(key).apply(whole)
      const rc4 = makeRc4(key)
      const pieces = Uint8Array.from(data)
      const into = new Uint8Array(data.length)
      let prev = 0
      const points = [...cuts.filter((c) => c <= data.length)].sort((x, y) => x - y)
      points.forEach((p, i) => {
        if (i % 2 === 0) rc4.apply(pieces, prev, p)
        else {
          rc4.applyTo(data.subarray(prev, p), into, prev)
          pieces.set(into.subarray(prev, p), prev)
        }
        prev = p
      })
      rc4.apply(pieces, prev, data.length)
      assert.strictEqual(hex(pieces), hex(whole))
      // applyTo leaves its source alone
      assert.strictEqual(hex(data), hex(Uint8Array.from(data)))
    }))
  })

  it("rejects an empty key", () => {
    assert.throws(() => makeRc4(new Uint8Array(0)))
  })
})

describe("Diffie-Hellman on the 768-bit prime", () => {
  it("public values are 2^x mod P, 96 bytes", () => {
    for (let i = 0; i < 20; i++) {
      const x = randomBytes(20)
      const y = publicKey(x)
      assert.strictEqual(y.length, 96)
      assert.strictEqual(hex(y), to96(modPow(2n, toBig(x), PRIME)))
    }
  })

  it("both sides compute the same secret, Y^x mod P", () => {
    const a = randomBytes(20)
    const b = randomBytes(20)
    const s1 = sharedSecret(a, publicKey(b))
    const s2 = sharedSecret(b, publicKey(a))
    assert.isDefined(s1)
    assert.strictEqual(hex(s1 ?? new Uint8Array(0)), hex(s2 ?? new Uint8Array(1)))
    assert.strictEqual(hex(s1 ?? new Uint8Array(0)), to96(modPow(toBig(publicKey(b)), toBig(a), PRIME)))
  })

  it("a public value outside 2..P-2 is refused, not thrown", () => {
    const x = randomBytes(20)
    const pMinus1 = Buffer.from(to96(PRIME - 1n), "hex")
    for (const bad of [new Uint8Array(96), Uint8Array.from([1]), pMinus1, Buffer.from(to96(PRIME), "hex"), new Uint8Array(96).fill(0xff)]) {
      assert.isUndefined(sharedSecret(x, bad), hex(bad).slice(-8))
    }
  })
})

describe("key derivations", () => {
  const sha1 = (...parts: ReadonlyArray<Uint8Array>) => {
    const h = createHash("sha1")
    for (const p of parts) h.update(p)
    return new Uint8Array(h.digest())
  }

  it("the obfuscated info-hash reveals HASH('req2', SKEY) to whoever knows S", () => {
    const skey = randomBytes(20)
    const secret = randomBytes(96)
    const sent = obfuscatedSkey(skey, secret)
    assert.notStrictEqual(hex(sent), hex(req2(skey)))
    assert.strictEqual(hex(revealReq2(sent, secret)), hex(sha1(ascii("req2"), skey)))
  })

  it("keyA is SHA-1('keyA', S, SKEY)", () => {
    const skey = randomBytes(20)
    const secret = randomBytes(96)
    assert.strictEqual(hex(keyA(secret, skey)), hex(sha1(ascii("keyA"), secret, skey)))
  })
})

describe("policy", () => {
  it("prefer offers both, require only RC4", () => {
    assert.strictEqual(provideFor("prefer"), CRYPTO_RC4 | CRYPTO_PLAINTEXT)
    assert.strictEqual(provideFor("require"), CRYPTO_RC4)
  })

  it("prefer selects plaintext when offered both (libtorrent's default rule), RC4 when that is all", () => {
    assert.strictEqual(selectFor("prefer")(CRYPTO_RC4 | CRYPTO_PLAINTEXT), CRYPTO_PLAINTEXT)
    assert.strictEqual(selectFor("prefer")(CRYPTO_RC4), CRYPTO_RC4)
    assert.strictEqual(selectFor("prefer")(CRYPTO_RC4 | 0xf0), CRYPTO_RC4)
    assert.strictEqual(selectFor("prefer")(CRYPTO_PLAINTEXT), CRYPTO_PLAINTEXT)
    assert.strictEqual(selectFor("disable")(CRYPTO_RC4), 0)
    assert.strictEqual(selectFor("require")(CRYPTO_PLAINTEXT), 0)
    assert.strictEqual(selectFor("require")(CRYPTO_PLAINTEXT | CRYPTO_RC4 | 0xf0), CRYPTO_RC4)
    assert.strictEqual(selectFor("prefer")(0xfc), 0)
  })
})

describe("classifyOpening", () => {
  const plain = encodeHandshake({ infoHash: new Uint8Array(20), peerId: new Uint8Array(20) })

  it("a plaintext handshake needs its 20 bytes; any other first byte is MSE at once", () => {
    assert.strictEqual(classifyOpening(plain), "plaintext")
    assert.strictEqual(classifyOpening(plain.subarray(0, 20)), "plaintext")
    assert.strictEqual(classifyOpening(plain.subarray(0, 19)), "undecided")
    assert.strictEqual(classifyOpening(new Uint8Array(0)), "undecided")
    assert.strictEqual(classifyOpening(Uint8Array.from([0x14])), "mse")
    const almost = Uint8Array.from(plain.subarray(0, 20))
    almost[19] = 0
    assert.strictEqual(classifyOpening(almost), "mse")
  })

  it("a public key is MSE", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 20, maxLength: 96 }), (bytes) => {
      fc.pre(bytes[0] !== 0x13)
      assert.strictEqual(classifyOpening(bytes), "mse")
    }))
  })
})
