/**
 * The MSE handshake machines against each other, byte by byte: every policy pairing,
 * random pads and payloads, every way of cutting the bytes into chunks, the scan limits,
 * and random garbage (which must always end in a failure once the limits are passed).
 */
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as fc from "fast-check"
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  type EncryptionPolicy,
  makeInitiator,
  makeResponder,
  type MseError,
  type MseMachine,
  type MseOutcome,
  provideFor,
  req2,
  selectFor
} from "../src/mse/index.ts"
import { encodeHandshake } from "../src/wire/index.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const SKEY = Uint8Array.from(randomBytes(20))
const OTHER = Uint8Array.from(randomBytes(20))
const IA = encodeHandshake({ infoHash: SKEY, peerId: Uint8Array.from(randomBytes(20)) })

interface Setup {
  readonly padA?: number
  readonly padB?: number
  readonly padC?: number
  readonly padD?: number
  readonly ia?: Uint8Array
  readonly ours?: Exclude<EncryptionPolicy, "disable">
  readonly provide?: number
  readonly theirs?: Exclude<EncryptionPolicy, "disable">
  readonly serves?: ReadonlyArray<Uint8Array>
}

const make = (s: Setup = {}) => {
  const index = new Map((s.serves ?? [OTHER, SKEY]).map((k) => [hex(req2(k)), k]))
  const initiator = makeInitiator({
    privateKey: Uint8Array.from(randomBytes(20)),
    padA: Uint8Array.from(randomBytes(s.padA ?? 0)),
    padC: Uint8Array.from(randomBytes(s.padC ?? 0)),
    skey: SKEY,
    provide: s.provide ?? provideFor(s.ours ?? "prefer"),
    ia: s.ia ?? IA
  })
  const responder = makeResponder({
    privateKey: Uint8Array.from(randomBytes(20)),
    padB: Uint8Array.from(randomBytes(s.padB ?? 0)),
    padD: Uint8Array.from(randomBytes(s.padD ?? 0)),
    findSkey: (h) => index.get(hex(h)),
    select: selectFor(s.theirs ?? "prefer")
  })
  return { initiator, responder }
}

type Cut = (message: Uint8Array) => ReadonlyArray<Uint8Array>
const whole: Cut = (m) => [m]

interface Result {
  readonly a?: MseOutcome
  readonly b?: MseOutcome
  readonly failed?: { readonly side: "A" | "B"; readonly error: MseError }
  /** Bytes each side sent, in order. */
  readonly wire: { readonly toA: Array<Uint8Array>; readonly toB: Array<Uint8Array> }
}

/** Runs the two machines against each other; each message is delivered as `cut` splits it (copies: the machines decrypt in place). */
const exchange = (opening: Uint8Array, a: MseMachine, b: MseMachine, cut: Cut = whole, extraToA?: (b: MseOutcome) => Uint8Array): Result => {
  let toB: Array<Uint8Array> = [opening]
  let toA: Array<Uint8Array> = []
  const wire = { toA: [] as Array<Uint8Array>, toB: [opening] }
  let outA: MseOutcome | undefined
  let outB: MseOutcome | undefined
  const deliver = (messages: ReadonlyArray<Uint8Array>, m: MseMachine, side: "A" | "B", out: Array<Uint8Array>, log: Array<Uint8Array>) => {
    for (const message of messages) {
      for (const piece of cut(message)) {
        if (piece.length === 0) continue
        const step = m.receive(Uint8Array.from(piece))
        if (step._tag === "Failed") return { side, error: step.error }
        out.push(...step.send)
        log.push(...step.send)
        if (step._tag === "Done") {
          if (side === "A") outA = step.outcome
          else {
            outB = step.outcome
            // the stream's first bytes in the same chunk as step 4
            const last = out.pop()
            if (extraToA !== undefined && last !== undefined) out.push(Buffer.concat([last, extraToA(step.outcome)]))
            else if (last !== undefined) out.push(last)
          }
        }
      }
    }
    return undefined
  }
  for (let round = 0; round < 8 && (toA.length > 0 || toB.length > 0); round++) {
    const nextA: Array<Uint8Array> = []
    const nextB: Array<Uint8Array> = []
    const fb = deliver(toB, b, "B", nextA, wire.toA)
    if (fb !== undefined) return { failed: fb, wire }
    const fa = deliver(toA, a, "A", nextB, wire.toB)
    if (fa !== undefined) return { failed: fa, wire }
    toA = nextA
    toB = nextB
  }
  return { ...(outA === undefined ? {} : { a: outA }), ...(outB === undefined ? {} : { b: outB }), wire }
}

const run = (s: Setup = {}, cut: Cut = whole) => {
  const { initiator, responder } = make(s)
  return exchange(initiator.opening, initiator.machine, responder, cut)
}

/** Both ends finished and the stream works both ways with the selected method. */
const assertStream = (r: Result, method: "rc4" | "plaintext", ia: Uint8Array = IA) => {
  assert.isUndefined(r.failed, r.failed?.error.message)
  const { a, b } = r
  if (a === undefined || b === undefined) return assert.fail("a side did not finish")
  assert.strictEqual(a.method, method)
  assert.strictEqual(b.method, method)
  assert.strictEqual(hex(b.skey), hex(SKEY))
  assert.strictEqual(hex(b.initial), hex(ia), "the responder's stream starts with IA")
  assert.strictEqual(a.initial.length, 0)
  for (const [from, to] of [[a, b], [b, a]] as const) {
    const message = Uint8Array.from(randomBytes(100))
    const sent = Uint8Array.from(message)
    from.encrypt?.apply(sent)
    if (method === "rc4") assert.notStrictEqual(hex(sent), hex(message))
    else assert.isNull(from.encrypt)
    to.decrypt?.apply(sent)
    assert.strictEqual(hex(sent), hex(message))
  }
}

describe("MSE handshake machines", () => {
  it("prefer meets prefer: plaintext after the handshake (IA was still encrypted)", () => {
    const r = run()
    assertStream(r, "plaintext")
    const step3 = r.wire.toB[1] ?? new Uint8Array(0)
    assert.isFalse(Buffer.from(step3).includes(Buffer.from(IA.subarray(0, 20))), "IA never travels in the clear")
  })
  it("require meets prefer: RC4", () => assertStream(run({ ours: "require" }), "rc4"))
  it("prefer meets require: RC4", () => assertStream(run({ theirs: "require" }), "rc4"))
  it("an initiator offering plaintext only gets plaintext (and IA was still encrypted)", () => {
    const r = run({ provide: CRYPTO_PLAINTEXT })
    assertStream(r, "plaintext")
    const step3 = r.wire.toB[1] ?? new Uint8Array(0)
    assert.isFalse(Buffer.from(step3).includes(Buffer.from(IA.subarray(0, 20))), "IA never travels in the clear")
  })
  it("require refuses an initiator that offers plaintext only", () => {
    const r = run({ provide: CRYPTO_PLAINTEXT, theirs: "require" })
    assert.strictEqual(r.failed?.side, "B")
    assert.strictEqual(r.failed?.error.reason, "NoCommonMethod")
  })
  it("the responder ignores unknown provide bits", () => assertStream(run({ provide: 0xff00 | CRYPTO_RC4 }), "rc4"))
  it("an empty IA: the peer's handshake follows in the stream", () => {
    assertStream(run({ ia: new Uint8Array(0), ours: "require" }), "rc4", new Uint8Array(0))
    assertStream(run({ ia: new Uint8Array(0) }), "plaintext", new Uint8Array(0))
  })
  it("maximal pads and a 64 KiB IA", () => {
    const ia = Uint8Array.from(randomBytes(0xffff))
    assertStream(run({ padA: 512, padB: 512, padC: 512, padD: 512, ia, ours: "require" }), "rc4", ia)
  })
  it("a torrent we do not serve", () => {
    const r = run({ serves: [OTHER] })
    assert.strictEqual(r.failed?.error.reason, "UnknownTorrent")
  })

  it("bytes after PadD in the same chunk are the first stream bytes, decrypted", () => {
    const { initiator, responder } = make({ padD: 7 })
    const payload = Uint8Array.from(randomBytes(300))
    const r = exchange(initiator.opening, initiator.machine, responder, whole, (b) => {
      const out = Uint8Array.from(payload)
      b.encrypt?.apply(out)
      return out
    })
    assert.strictEqual(hex(r.a?.initial ?? new Uint8Array(0)), hex(payload))
  })

  it("random pads, payloads and policies, bytes cut anywhere", () => {
    const policy = fc.constantFrom<"prefer" | "require">("prefer", "require")
    fc.assert(fc.property(
      fc.record({
        padA: fc.nat({ max: 512 }),
        padB: fc.nat({ max: 512 }),
        padC: fc.nat({ max: 512 }),
        padD: fc.nat({ max: 512 }),
        ia: fc.uint8Array({ maxLength: 200 }),
        ours: policy,
        theirs: policy
      }),
      fc.array(fc.nat({ max: 1200 }), { maxLength: 12 }),
      (setup, cuts) => {
        const cut: Cut = (m) => {
          const points = [...new Set(cuts.filter((c) => c > 0 && c < m.length))].sort((x, y) => x - y)
          const out: Array<Uint8Array> = []
          let prev = 0
          for (const p of [...points, m.length]) {
            out.push(m.subarray(prev, p))
            prev = p
          }
          return out
        }
        const expected = setup.ours === "prefer" && setup.theirs === "prefer" ? "plaintext" : "rc4"
        assertStream(run(setup, cut), expected, setup.ia)
      }
    ), { numRuns: 150 })
  })

  it("every message split at every position, and delivered one byte at a time", () => {
    const setup: Setup = { padA: 37, padB: 21, padC: 5, padD: 9, ours: "require" }
    const longest = 96 + 37
    for (let k = 1; k < longest; k++) {
      assertStream(run(setup, (m) => (k < m.length ? [m.subarray(0, k), m.subarray(k)] : [m])), "rc4")
    }
    assertStream(run(setup, (m) => Array.from(m, (_, i) => m.subarray(i, i + 1))), "rc4")
  })
})

describe("MSE scan limits", () => {
  it("the responder finds req1 after a 512-byte PadA, not after 513", () => {
    assertStream(run({ padA: 512, ours: "require" }), "rc4")
    const { initiator, responder } = make({ padA: 512 })
    const stretched = new Uint8Array(initiator.opening.length + 1)
    stretched.set(initiator.opening)
    const r = exchange(stretched, initiator.machine, responder)
    assert.strictEqual(r.failed?.side, "B")
    assert.strictEqual(r.failed?.error.reason, "SyncNotFound")
  })

  it("the initiator finds VC after a 512-byte PadB, not after 513", () => {
    assertStream(run({ padB: 512, ours: "require" }), "rc4")
    const { initiator, responder } = make({ padB: 512 })
    const cut: Cut = (m) => (m.length === 96 + 512 ? [m, new Uint8Array(1)] : [m])
    const r = exchange(initiator.opening, initiator.machine, responder, cut)
    assert.strictEqual(r.failed?.side, "A")
    assert.strictEqual(r.failed?.error.reason, "SyncNotFound")
  })

  const limitOf = { B: 96 + 512 + 20, A: 96 + 512 + 8 }
  for (const side of ["B", "A"] as const) {
    it(`random bytes to the ${side === "B" ? "responder" : "initiator"}: never done, failed once past ${limitOf[side]} bytes`, () => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 1500 }), fc.array(fc.nat({ max: 1500 }), { maxLength: 10 }), (garbage, cuts) => {
        const { initiator, responder } = make()
        const machine = side === "B" ? responder : initiator.machine
        let failed: MseError | undefined
        const points = [...new Set(cuts.filter((c) => c > 0 && c < garbage.length))].sort((x, y) => x - y)
        let prev = 0
        for (const p of [...points, garbage.length]) {
          if (p === prev) continue
          const step = machine.receive(garbage.slice(prev, p))
          prev = p
          assert.notStrictEqual(step._tag, "Done")
          if (step._tag === "Failed") {
            failed = step.error
            break
          }
        }
        if (garbage.length >= limitOf[side]) assert.isDefined(failed, `${garbage.length} random bytes did not fail`)
      }), { numRuns: 300 })
    })
  }

  it("a public key of zero is refused", () => {
    const { responder } = make()
    const step = responder.receive(new Uint8Array(96))
    assert.strictEqual(step._tag === "Failed" ? step.error.reason : step._tag, "BadKey")
  })

  it("a corrupted step 3: waits (req1), fails (info-hash, VC) or hands the damage on (IA)", () => {
    const step3Length = 40 + 8 + 4 + 2 + 2 + IA.length
    fc.assert(fc.property(fc.nat({ max: step3Length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
      const { initiator, responder } = make()
      const corrupt: Cut = (m) => {
        if (m.length !== step3Length) return [m]
        const copy = Uint8Array.from(m)
        copy[at] = (copy[at] ?? 0) ^ flip
        return [copy]
      }
      const r = exchange(initiator.opening, initiator.machine, responder, corrupt)
      if (at < 20) {
        assert.isUndefined(r.failed)
        assert.isUndefined(r.b, "still scanning for req1")
      } else if (at < 40) assert.strictEqual(r.failed?.error.reason, "UnknownTorrent")
      else if (at < 48) assert.strictEqual(r.failed?.error.reason, "BadVerification")
      else if (at >= 56) {
        const got = r.b?.initial ?? new Uint8Array(0)
        assert.strictEqual(got.length, IA.length)
        const diff = got.findIndex((x, i) => x !== IA[i])
        assert.strictEqual(diff, at - 56)
      }
    }), { numRuns: 120 })
  })
})
