import { assert, describe, it } from "@effect/vitest"
import { toHex as hex } from "../src/bytes.ts"
import { Effect, Result, Schema, SchemaIssue } from "effect"
import * as fc from "fast-check"
import { decodeFrameAt } from "../src/wire/codec.ts"
import {
  decodeFrame,
  encodeMessage,
  encodePieceHeader,
  Message,
  MessageFromFrame,
  type WireError
} from "../src/wire/index.ts"

const u32 = fc.integer({ min: 0, max: 0xffff_ffff })
const bytes = (maxLength: number) => fc.uint8Array({ maxLength })

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>(
    { _tag: "KeepAlive" },
    { _tag: "Choke" },
    { _tag: "Unchoke" },
    { _tag: "Interested" },
    { _tag: "NotInterested" },
    { _tag: "HaveAll" },
    { _tag: "HaveNone" }
  ),
  u32.map((index): Message => ({ _tag: "Have", index })),
  u32.map((index): Message => ({ _tag: "Suggest", index })),
  u32.map((index): Message => ({ _tag: "AllowedFast", index })),
  bytes(64).map((bits): Message => ({ _tag: "Bitfield", bits })),
  fc.tuple(fc.constantFrom("Request", "Cancel", "Reject" as const), u32, u32, u32).map(
    ([_tag, index, begin, length]): Message => ({ _tag, index, begin, length })
  ),
  fc.tuple(u32, u32, bytes(300)).map(([index, begin, block]): Message => ({ _tag: "Piece", index, begin, block })),
  fc.integer({ min: 0, max: 0xffff }).map((port): Message => ({ _tag: "Port", port })),
  fc.tuple(fc.constantFrom("HashRequest", "HashReject" as const), fc.uint8Array({ minLength: 32, maxLength: 32 }), u32, u32, u32, u32).map(
    ([_tag, piecesRoot, baseLayer, index, length, proofLayers]): Message => ({ _tag, piecesRoot, baseLayer, index, length, proofLayers })
  ),
  fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), u32, u32, u32, u32, fc.integer({ min: 0, max: 10 })).map(
    ([piecesRoot, baseLayer, index, length, proofLayers, count]): Message => ({
      _tag: "Hashes",
      piecesRoot,
      baseLayer,
      index,
      length,
      proofLayers,
      hashes: new Uint8Array(32 * count).map((_, i) => i * 7)
    })
  ),
  fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(100)).map(([id, payload]): Message => ({
    _tag: "Extended",
    id,
    payload
  }))
)

const ok = (frame: ArrayLike<number>): Message => {
  const r = decodeFrame(Uint8Array.from(frame))
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${r.failure.message}`)
  return r.success
}
const err = (frame: ArrayLike<number>): WireError => {
  const r = decodeFrame(Uint8Array.from(frame))
  if (Result.isSuccess(r)) throw new Error(`unexpected success: ${JSON.stringify(r.success)}`)
  return r.failure
}

describe("wire: message examples (BEP 3/5/6/10)", () => {
  it("payload-less messages", () => {
    assert.deepStrictEqual(ok([]), { _tag: "KeepAlive" })
    assert.deepStrictEqual(ok([0]), { _tag: "Choke" })
    assert.deepStrictEqual(ok([1]), { _tag: "Unchoke" })
    assert.deepStrictEqual(ok([2]), { _tag: "Interested" })
    assert.deepStrictEqual(ok([3]), { _tag: "NotInterested" })
    assert.deepStrictEqual(ok([0x0e]), { _tag: "HaveAll" })
    assert.deepStrictEqual(ok([0x0f]), { _tag: "HaveNone" })
  })

  it("index messages are big-endian u32", () => {
    assert.deepStrictEqual(ok([4, 0, 0, 1, 0]), { _tag: "Have", index: 256 })
    assert.deepStrictEqual(ok([4, 0xff, 0xff, 0xff, 0xff]), { _tag: "Have", index: 0xffff_ffff })
    assert.deepStrictEqual(ok([0x0d, 0, 0, 0, 7]), { _tag: "Suggest", index: 7 })
    assert.deepStrictEqual(ok([0x11, 1, 0, 0, 0]), { _tag: "AllowedFast", index: 0x0100_0000 })
  })

  it("request / cancel / reject", () => {
    const body = [0, 0, 0, 2, 0, 0, 0x40, 0, 0, 0, 0x40, 0]
    assert.deepStrictEqual(ok([6, ...body]), { _tag: "Request", index: 2, begin: 16384, length: 16384 })
    assert.deepStrictEqual(ok([8, ...body]), { _tag: "Cancel", index: 2, begin: 16384, length: 16384 })
    assert.deepStrictEqual(ok([0x10, ...body]), { _tag: "Reject", index: 2, begin: 16384, length: 16384 })
  })

  it("bitfield, piece, port, extended", () => {
    const bf = ok([5, 0b1010_0000, 0xff])
    assert.strictEqual(bf._tag, "Bitfield")
    if (bf._tag === "Bitfield") assert.deepStrictEqual([...bf.bits], [0b1010_0000, 0xff])
    const piece = ok([7, 0, 0, 0, 1, 0, 0, 0, 2, 9, 8, 7])
    assert.strictEqual(piece._tag, "Piece")
    if (piece._tag === "Piece") {
      assert.strictEqual(piece.index, 1)
      assert.strictEqual(piece.begin, 2)
      assert.deepStrictEqual([...piece.block], [9, 8, 7])
    }
    const empty = ok([7, 0, 0, 0, 1, 0, 0, 0, 2])
    assert.isTrue(empty._tag === "Piece" && empty.block.length === 0)
    assert.deepStrictEqual(ok([9, 0x1a, 0xe1]), { _tag: "Port", port: 6881 })
    const ext = ok([20, 3, 0x64, 0x65])
    assert.isTrue(ext._tag === "Extended" && ext.id === 3 && hex(ext.payload) === "6465")
    const extEmpty = ok([20, 0])
    assert.isTrue(extEmpty._tag === "Extended" && extEmpty.payload.length === 0)
  })

  it("encodes exactly the bytes BEP 3 shows", () => {
    assert.strictEqual(hex(encodeMessage({ _tag: "KeepAlive" })), "00000000")
    assert.strictEqual(hex(encodeMessage({ _tag: "Interested" })), "0000000102")
    assert.strictEqual(hex(encodeMessage({ _tag: "Have", index: 258 })), "000000050400000102")
    assert.strictEqual(
      hex(encodeMessage({ _tag: "Request", index: 1, begin: 16384, length: 16384 })),
      "0000000d06" + "00000001" + "00004000" + "00004000"
    )
    assert.strictEqual(hex(encodeMessage({ _tag: "Port", port: 6881 })), "00000003091ae1")
    assert.strictEqual(hex(encodeMessage({ _tag: "HaveAll" })), "000000010e")
    assert.strictEqual(hex(encodeMessage({ _tag: "Extended", id: 0, payload: Uint8Array.of(0x64, 0x65) })), "00000004140064" + "65")
  })

  it("piece header + block equals the encoded Piece message", () => {
    const block = Uint8Array.from({ length: 100 }, (_, i) => i)
    const whole = encodeMessage({ _tag: "Piece", index: 5, begin: 32768, block })
    const header = encodePieceHeader(5, 32768, block.length)
    assert.strictEqual(header.length, 13)
    assert.strictEqual(header.buffer.byteLength, 13) // no hidden block-sized allocation
    assert.strictEqual(hex(whole), hex(header) + hex(block))
  })
})

describe("wire: length validation", () => {
  it("says which message and what length", () => {
    const e = err([4, 1])
    assert.strictEqual(e.reason, "BadLength")
    assert.strictEqual(e.messageId, 4)
    assert.strictEqual(e.message, "message id 4 (have): expected 5 bytes, got 2")
    assert.isFalse(e.recoverable)
    assert.strictEqual(err([0, 0]).message, "message id 0 (choke): expected 1 bytes, got 2")
    assert.strictEqual(err([6, 0, 0, 0]).message, "message id 6 (request): expected 13 bytes, got 4")
    assert.strictEqual(err([7, 0, 0, 0, 0, 0, 0, 0]).message, "message id 7 (piece): expected at least 9 bytes, got 8")
    assert.strictEqual(err([9, 1]).message, "message id 9 (port): expected 3 bytes, got 2")
    assert.strictEqual(err([0x0e, 1]).message, "message id 14 (have all): expected 1 bytes, got 2")
    assert.strictEqual(err([0x11]).message, "message id 17 (allowed fast): expected 5 bytes, got 1")
    assert.strictEqual(err([20]).message, "message id 20 (extended): expected at least 2 bytes, got 1")
  })

  it("BEP 52 hash request / hashes / hash reject: fixed fields, whole hashes only", () => {
    const root = Array.from({ length: 32 }, (_, i) => i)
    const fields = [0, 0, 0, 2, 0, 0, 2, 0, 0, 0, 0, 4, 0, 0, 0, 3]
    const request = ok([21, ...root, ...fields])
    assert.deepStrictEqual(request, {
      _tag: "HashRequest",
      piecesRoot: Uint8Array.from(root),
      baseLayer: 2,
      index: 512,
      length: 4,
      proofLayers: 3
    })
    assert.strictEqual(ok([23, ...root, ...fields])._tag, "HashReject")
    const hashes = ok([22, ...root, ...fields, ...new Array(64).fill(9)])
    assert.isTrue(hashes._tag === "Hashes" && hashes.hashes.length === 64)
    assert.strictEqual(err([21, ...root]).message, "message id 21 (hash request): expected 49 bytes, got 33")
    assert.strictEqual(err([23, ...root, ...fields, 0]).message, "message id 23 (hash reject): expected 49 bytes, got 50")
    assert.strictEqual(
      err([22, ...root, ...fields, ...new Array(33).fill(1)]).message,
      "message id 22 (hashes): expected 49 + 32 per hash bytes, got 82"
    )
    assert.strictEqual(err([22, 1, 2]).reason, "BadLength")
  })

  it("unknown ids are a recoverable typed error", () => {
    for (const id of [10, 11, 12, 18, 19, 24, 99, 255]) {
      const e = err([id, 1, 2, 3])
      assert.strictEqual(e.reason, "UnknownMessageId")
      assert.strictEqual(e.messageId, id)
      assert.isTrue(e.recoverable)
      assert.include(e.message, `message id ${id} (unknown`)
    }
  })
})

describe("wire: zero-copy", () => {
  it("Piece.block, Bitfield.bits and Extended.payload are views of the frame", () => {
    const frame = Uint8Array.from([7, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4])
    const piece = ok(frame)
    const r = decodeFrame(frame)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r) && r.success._tag === "Piece") {
      assert.strictEqual(r.success.block.buffer, frame.buffer)
      assert.strictEqual(r.success.block.byteOffset, frame.byteOffset + 9)
      frame[9] = 42 // a view sees writes to the frame
      assert.strictEqual(r.success.block[0], 42)
    }
    assert.strictEqual(piece._tag, "Piece")
    const ext = Uint8Array.from([20, 1, 9, 9])
    const e = decodeFrame(ext)
    assert.isTrue(Result.isSuccess(e) && e.success._tag === "Extended" && e.success.payload.buffer === ext.buffer)
  })
})

describe("wire: properties", () => {
  it("encode -> decode returns the message, for every kind", () => {
    fc.assert(
      fc.property(arbMessage, (m) => {
        const wire = encodeMessage(m)
        const len = new DataView(wire.buffer, wire.byteOffset, wire.byteLength).getUint32(0)
        assert.strictEqual(len, wire.length - 4)
        const back = decodeFrame(wire.subarray(4))
        assert.isTrue(Result.isSuccess(back))
        if (Result.isSuccess(back)) assert.deepStrictEqual(back.success, m)
      }),
      { numRuns: 2000 }
    )
  })

  it("decodeFrameAt (in place, inside a bigger buffer) decodes what decodeFrame does, bytes or error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 255 }), bytes(20), bytes(20), (tail, id, before, after) => {
        const frame = Uint8Array.of(id, ...tail)
        const whole = Uint8Array.of(...before, ...frame, ...after)
        const inPlace = decodeFrameAt(whole, before.length, frame.length)
        const alone = decodeFrame(frame)
        assert.strictEqual(Result.isSuccess(inPlace), Result.isSuccess(alone))
        if (Result.isSuccess(inPlace) && Result.isSuccess(alone)) assert.deepStrictEqual(inPlace.success, alone.success)
        if (Result.isFailure(inPlace) && Result.isFailure(alone)) assert.strictEqual(inPlace.failure.message, alone.failure.message)
      }),
      { numRuns: 3000 }
    )
  })

  it("decodeFrameAt decodes every kind of message in place, at any offset of a bigger buffer", () => {
    // the random frames above stay under 41 bytes, so they never reach the 49-byte hash messages
    fc.assert(
      fc.property(arbMessage, bytes(20), bytes(20), (m, before, after) => {
        const frame = encodeMessage(m).subarray(4)
        const whole = Uint8Array.of(...before, ...frame, ...after)
        const inPlace = decodeFrameAt(whole, before.length, frame.length)
        assert.isTrue(Result.isSuccess(inPlace))
        if (Result.isSuccess(inPlace)) assert.deepStrictEqual(inPlace.success, m)
      }),
      { numRuns: 3000 }
    )
  })

  it("every kind is generated (the round trip covers the whole union)", () => {
    const seen = new Set(fc.sample(arbMessage, 3000).map((m) => m._tag))
    assert.deepStrictEqual([...seen].sort(), Object.keys(Message.cases).sort())
  })

  it("random bytes never throw: a message or a typed WireError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 255 }), (tail, id) => {
        for (const frame of [tail, Uint8Array.of(id, ...tail)]) {
          const r = decodeFrame(frame)
          if (Result.isFailure(r)) {
            assert.strictEqual(r.failure._tag, "WireError")
            assert.include(["BadLength", "UnknownMessageId"], r.failure.reason)
          } else {
            // a successful decode re-encodes to the same bytes (the codec is canonical)
            assert.strictEqual(hex(encodeMessage(r.success).subarray(4)), hex(frame))
          }
        }
      }),
      { numRuns: 3000 }
    )
  })
})

describe("wire: Schema transformation", () => {
  it.effect("decodeUnknownEffect / encodeEffect agree with the sync path", () =>
    Effect.gen(function*() {
      const decodeM = Schema.decodeUnknownEffect(MessageFromFrame)
      const have = yield* decodeM(Uint8Array.of(4, 0, 0, 1, 0))
      assert.deepStrictEqual(have, { _tag: "Have", index: 256 })
      const bytes = yield* Schema.encodeEffect(MessageFromFrame)({ _tag: "Cancel", index: 1, begin: 2, length: 3 })
      assert.strictEqual(hex(bytes), "08000000010000000200000003")

      const failure = yield* Effect.flip(decodeM(Uint8Array.of(4, 1)))
      assert.strictEqual(failure._tag, "SchemaError")
      const std = SchemaIssue.makeFormatterStandardSchemaV1()(failure.issue)
      assert.deepStrictEqual(std.issues.map((i) => i.message), ["message id 4 (have): expected 5 bytes, got 2"])

      // not a Uint8Array at all
      yield* Effect.flip(decodeM("nope"))
      // encoding validates the message type: a port above 65535 is rejected
      const bad = yield* Effect.flip(
        Schema.encodeUnknownEffect(MessageFromFrame)({ _tag: "Port", port: 70000 })
      )
      assert.strictEqual(bad._tag, "SchemaError")
    }))

  it("Message.match is exhaustive over decoded messages", () => {
    const name = (m: Message) =>
      Message.match(m, {
        KeepAlive: () => "keep-alive",
        Choke: () => "choke",
        Unchoke: () => "unchoke",
        Interested: () => "interested",
        NotInterested: () => "not interested",
        Have: (h) => `have ${h.index}`,
        Bitfield: (b) => `bitfield ${b.bits.length}`,
        Request: (r) => `request ${r.index}`,
        Piece: (p) => `piece ${p.block.length}`,
        Cancel: () => "cancel",
        Port: (p) => `port ${p.port}`,
        Suggest: () => "suggest",
        HaveAll: () => "have all",
        HaveNone: () => "have none",
        Reject: () => "reject",
        AllowedFast: () => "allowed fast",
        HashRequest: (h) => `hash request ${h.length}`,
        Hashes: (h) => `hashes ${h.hashes.length / 32}`,
        HashReject: () => "hash reject",
        Extended: (e) => `extended ${e.id}`
      })
    assert.strictEqual(name(ok([4, 0, 0, 0, 9])), "have 9")
    assert.strictEqual(name(ok([20, 2])), "extended 2")
  })
})
