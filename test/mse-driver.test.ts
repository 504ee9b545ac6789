/**
 * The MSE driver over real connections: TCP on 127.0.0.1 both ways (every read and write
 * form of the wrapped `Connection`, megabytes through it), and, on the simulated network in
 * virtual time, random openings and random answers that must end in a failure within the
 * scan limits or the step time-out: no wait is unbounded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber } from "effect"
import * as fc from "fast-check"
import { randomBytes } from "node:crypto"
import {
  CRYPTO_PLAINTEXT,
  type Encrypted,
  encryptedConnection,
  initiate,
  makeInitiator,
  MseEntropy,
  readOpening,
  req2,
  respond,
  seededEntropy
} from "../src/mse/index.ts"
import { type Connection, Network, NodeNetwork } from "../src/net/index.ts"
import { advanceUntil, inVirtualTime, makeWorld, SimNetwork } from "../src/sim/index.ts"
import { encodeHandshake } from "../src/wire/index.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")
const SKEY = Uint8Array.from(randomBytes(20))
const IA = encodeHandshake({ infoHash: SKEY, peerId: Uint8Array.from(randomBytes(20)) })
const findSkey = (h: Uint8Array) => (hex(h) === hex(req2(SKEY)) ? SKEY : undefined)

const readN = (conn: Connection, n: number) =>
  Effect.gen(function*() {
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      const chunk = yield* conn.read
      out.set(chunk, got)
      got += chunk.length
    }
    return out
  })

/** Reads `n` bytes through `readable` (the session's way), re-arming when asked to stop. */
const readableN = (conn: Connection, n: number) =>
  Effect.callback<Uint8Array, Error>((resume) => {
    const out = new Uint8Array(n)
    let got = 0
    let calls = 0
    const consumer = (chunk: Uint8Array): boolean => {
      out.set(chunk, got)
      got += chunk.length
      if (got === n) {
        resume(Effect.succeed(out))
        return false
      }
      // stop now and then, and re-arm from outside the callback, as the session does
      if (++calls % 7 === 0) {
        setImmediate(() => conn.readable(consumer, (e) => resume(Effect.fail(new Error(e.message)))))
        return false
      }
      return true
    }
    conn.readable(consumer, (e) => resume(Effect.fail(new Error(e.message))))
  })

const payload = (n: number) => Uint8Array.from(randomBytes(n))

/** An initiator offering only `provide` (the driver offers what a policy allows), on the same machine. */
const initiateByHand = (raw: Connection, provide: number) =>
  Effect.gen(function*() {
    const { opening, machine } = makeInitiator({ privateKey: payload(20), padA: payload(33), padC: new Uint8Array(0), skey: SKEY, provide, ia: IA })
    yield* raw.write(opening)
    while (true) {
      const step = machine.receive(yield* raw.read)
      if (step._tag === "Failed") return yield* step.error
      if (step.send.length > 0) yield* raw.writeV(step.send)
      if (step._tag === "Done") {
        return { connection: encryptedConnection(raw, step.outcome), method: step.outcome.method, skey: SKEY } satisfies Encrypted
      }
    }
  })

/** A listener whose first connection answers MSE; returns what `respond` gave. */
const acceptMse = (network: Network["Service"], policy: "prefer" | "require") =>
  Effect.gen(function*() {
    const listener = yield* network.listen({ host: "127.0.0.1", port: 0 })
    const accepted = yield* Effect.forkScoped(Effect.gen(function*() {
      const conn = yield* listener.accept
      const opening = yield* readOpening(conn, "5 seconds")
      assert.strictEqual(opening.kind, "mse")
      // as the listener does: a failed handshake closes the connection
      return yield* respond(conn, opening.bytes, { findSkey, policy }).pipe(Effect.onError(() => conn.close))
    }))
    return { port: listener.address.port, accepted }
  })

describe("MSE over TCP", () => {
  for (
    const [initiatorPolicy, provide, method] of [
      ["require", undefined, "rc4"],
      ["prefer", undefined, "plaintext"],
      ["prefer", CRYPTO_PLAINTEXT, "plaintext"]
    ] as const
  ) {
    it.live(`${initiatorPolicy} offering ${provide === undefined ? "what it allows" : "plaintext only"}, to prefer: ${method}; megabytes both ways through every read and write form`, () =>
      Effect.gen(function*() {
        const network = yield* Network
        const { port, accepted } = yield* acceptMse(network, "prefer")
        const raw = yield* network.connect({ host: "127.0.0.1", port })
        const a: Encrypted = provide === undefined
          ? yield* initiate(raw, { skey: SKEY, ia: IA, policy: initiatorPolicy })
          : yield* initiateByHand(raw, provide)
        const b = yield* Fiber.join(accepted)
        assert.strictEqual(a.method, method)
        assert.strictEqual(b.method, method)
        assert.strictEqual(hex(b.skey), hex(SKEY))
        // the responder's stream starts with our IA
        assert.strictEqual(hex(yield* readN(b.connection, IA.length)), hex(IA))

        const big = payload(1024 * 1024 + 17)
        const small = [payload(5), payload(16 * 1024), payload(1)]
        const keep = big.slice()
        // A → B: write, writeV, offer + drained, read back with `readable`
        const sending = yield* Effect.forkChild(Effect.gen(function*() {
          yield* a.connection.write(big.subarray(0, 1000))
          yield* a.connection.writeV(small)
          for (let at = 1000; at < big.length; at += 256 * 1024) {
            if (!a.connection.offer([big.subarray(at, Math.min(big.length, at + 100)), big.subarray(Math.min(big.length, at + 100), Math.min(big.length, at + 256 * 1024))])) {
              yield* a.connection.drained
            }
          }
        }))
        const got = yield* readableN(b.connection, big.length + small.reduce((n, s) => n + s.length, 0))
        yield* Fiber.join(sending)
        const expected = Buffer.concat([big.subarray(0, 1000), ...small, big.subarray(1000)])
        assert.isTrue(Buffer.from(got).equals(expected), "A → B arrives intact")
        assert.isTrue(Buffer.from(big).equals(keep), "the sender's buffers are untouched")
        // B → A with `read`
        const back = payload(1024 * 1024)
        yield* Effect.forkChild(b.connection.write(back))
        assert.isTrue(Buffer.from(yield* readN(a.connection, back.length)).equals(back), "B → A arrives intact")
      }).pipe(Effect.provide(NodeNetwork.layer)))
  }

  it.live("require refuses an initiator that offers plaintext only; the initiator's wait ends with the close", () =>
    Effect.gen(function*() {
      const network = yield* Network
      const { port, accepted } = yield* acceptMse(network, "require")
      const raw = yield* network.connect({ host: "127.0.0.1", port })
      const mine = yield* Effect.exit(initiateByHand(raw, CRYPTO_PLAINTEXT))
      assert.isTrue(Exit.isFailure(mine), "the responder closed the connection")
      const refused = yield* Effect.flip(Fiber.join(accepted))
      assert.strictEqual(refused._tag === "MseError" ? refused.reason : refused._tag, "NoCommonMethod")
    }).pipe(Effect.provide(NodeNetwork.layer)))
})

// ---------------------------------------------------------------- fuzzing in virtual time

const STEP_TIMEOUT_MS = 30_000

/** Random bytes in random chunks, written with random pauses, then silence (the connection stays open). */
const arbOpening = fc.record({
  bytes: fc.oneof(fc.uint8Array({ maxLength: 120 }), fc.uint8Array({ minLength: 96, maxLength: 1200 })),
  cuts: fc.array(fc.nat({ max: 1200 }), { maxLength: 6 }),
  pauseMs: fc.nat({ max: 20_000 })
})
type Opening = typeof arbOpening extends fc.Arbitrary<infer A> ? A : never

const pieces = (o: Opening): Array<Uint8Array> => {
  const points = [...new Set(o.cuts.filter((c) => c > 0 && c < o.bytes.length))].sort((x, y) => x - y)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of [...points, o.bytes.length]) {
    if (p > prev) out.push(o.bytes.slice(prev, p))
    prev = p
  }
  return out
}

/** Sends `o` to `conn` and then holds the connection open, silent. */
const sendThenHold = (conn: Connection, o: Opening) =>
  Effect.gen(function*() {
    for (const piece of pieces(o)) {
      yield* conn.write(piece)
      yield* Effect.sleep(o.pauseMs)
    }
    yield* Effect.never
  })

const fuzz = (side: "responder" | "initiator", cases: ReadonlyArray<Opening>) =>
  inVirtualTime(Effect.gen(function*() {
    const world = yield* makeWorld({ latencyMs: 20 })
    const server = SimNetwork.networkOf(world, "10.0.0.1")
    const client = SimNetwork.networkOf(world, "10.0.0.2")
    const listener = yield* server.listen({ host: "10.0.0.1", port: 6881 })
    for (const o of cases) {
      const started = yield* Clock.currentTimeMillis
      const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
        if (side === "responder") {
          const peer = yield* Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
            yield* sendThenHold(yield* client.connect({ host: "10.0.0.1", port: 6881 }), o)
          })))
          const conn = yield* listener.accept
          const opening = yield* readOpening(conn, STEP_TIMEOUT_MS)
          if (opening.kind === "plaintext") return "plaintext"
          yield* respond(conn, opening.bytes, { findSkey, policy: "prefer" })
          void peer
        } else {
          yield* Effect.forkScoped(Effect.scoped(Effect.gen(function*() {
            const conn = yield* listener.accept
            yield* conn.read
            yield* sendThenHold(conn, o)
          })))
          const conn = yield* client.connect({ host: "10.0.0.1", port: 6881 })
          yield* initiate(conn, { skey: SKEY, ia: IA, policy: "prefer" })
        }
        return "done"
      }).pipe(Effect.provideService(MseEntropy, seededEntropy))))
      const limit = started + pieces(o).length * (o.pauseMs + 100) + STEP_TIMEOUT_MS + 1000
      yield* advanceUntil({ done: () => fiber.pollUnsafe() !== undefined, deadlineMs: limit, stepMs: 100 })
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit, `hung on ${o.bytes.length} bytes in ${pieces(o).length} pieces`)
      if (exit === undefined) return
      // random bytes never make a handshake (a plaintext opening needs 20 exact bytes)
      if (Exit.isSuccess(exit)) assert.strictEqual(exit.value, "plaintext")
      else assert.match(String(exit.cause), /MseError/)
      const reasons = Exit.isFailure(exit) ? String(exit.cause) : ""
      // past the scan limit the failure is immediate, not a time-out
      const limitBytes = side === "responder" ? 96 + 512 + 20 : 96 + 512 + 8
      if (o.bytes.length >= limitBytes) assert.notMatch(reasons, /Timeout/, `${o.bytes.length} bytes`)
    }
  }), { seed: "mse-fuzz" })

describe("MSE with random peers, in virtual time", () => {
  const cases = fc.sample(arbOpening, { numRuns: 40, seed: 13 })
  it.effect("a responder fed random openings always ends: scan limit or step time-out", () => fuzz("responder", cases))
  it.effect("an initiator answered with random bytes always ends too", () => fuzz("initiator", cases))
  it.effect("a plaintext-only peer always gets enough of our opening to refuse it (never left waiting)", () =>
    inVirtualTime(Effect.gen(function*() {
      const world = yield* makeWorld({ latencyMs: 20 })
      const server = SimNetwork.networkOf(world, "10.0.0.1")
      const client = SimNetwork.networkOf(world, "10.0.0.2")
      const listener = yield* server.listen({ host: "10.0.0.1", port: 6881 })
      // reads a handshake as BEP 3 frames it (pstrlen, pstr, 48 bytes), then closes: it is not one
      yield* Effect.forkScoped(Effect.forever(Effect.scoped(Effect.gen(function*() {
        const conn = yield* listener.accept
        let got = new Uint8Array(0)
        while (got.length === 0 || got.length < 1 + (got[0] ?? 0) + 48) got = Buffer.concat([got, yield* conn.read])
        yield* conn.close
      })).pipe(Effect.ignore)))
      for (let i = 0; i < 40; i++) {
        const fiber = yield* Effect.forkChild(Effect.scoped(Effect.gen(function*() {
          const conn = yield* client.connect({ host: "10.0.0.1", port: 6881 })
          return yield* Effect.flip(initiate(conn, { skey: SKEY, ia: IA, policy: "prefer", stepTimeout: "30 seconds" }))
        })).pipe(Effect.provideService(MseEntropy, seededEntropy)))
        yield* advanceUntil({ done: () => fiber.pollUnsafe() !== undefined, deadlineMs: (i + 1) * 60_000, stepMs: 100 })
        const error = yield* Fiber.join(fiber)
        assert.strictEqual(error._tag === "MseError" ? error.reason : error._tag, "Network", `try ${i}`)
      }
    }), { seed: "plaintext-only" }))
})
