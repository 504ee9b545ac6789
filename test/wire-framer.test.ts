import { assert, describe, it } from "@effect/vitest"
import { toHex as hex } from "../src/bytes.ts"
import { Result } from "effect"
import * as fc from "fast-check"
import {
  decodeFrame,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  makeFramer,
  makeReserved,
  type Framer,
  type Message
} from "../src/wire/index.ts"


const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const prefixed = (payload: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + payload.length)
  new DataView(out.buffer).setUint32(0, payload.length)
  out.set(payload, 4)
  return out
}

/** Splits `bytes` at arbitrary cut points (empty and 1-byte pieces included), each piece its own buffer like a socket read. */
const arbChunking = (bytes: Uint8Array): fc.Arbitrary<ReadonlyArray<Uint8Array>> =>
  fc.array(fc.integer({ min: 0, max: bytes.length }), { maxLength: 60 }).map((cuts) => {
    const out: Array<Uint8Array> = []
    let prev = 0
    for (const p of [...[...cuts].sort((a, b) => a - b), bytes.length]) {
      out.push(bytes.slice(prev, p))
      prev = p
    }
    return out
  })

const handshake = encodeHandshake({
  infoHash: new Uint8Array(20).fill(0xaa),
  peerId: new TextEncoder().encode("-ET0001-abcdefghijkl"),
  reserved: makeReserved({ extensionProtocol: true, fast: true })
})

/** Everything `take` yields until it needs more bytes; wire errors thrown. */
const drainWith = <A>(take: () => Result.Result<A | undefined, { readonly message: string }>): Array<A> => {
  const out: Array<A> = []
  while (true) {
    const r = take()
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    if (r.success === undefined) return out
    out.push(r.success)
  }
}

const drain = (framer: Framer): Array<Uint8Array> => drainWith(() => framer.next())

const arbStream = fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 20 }).chain((payloads) => {
  const stream = concat([handshake, ...payloads.map(prefixed)])
  return arbChunking(stream).map((chunks) => ({ payloads, chunks }))
})

describe("wire framer: chunking", () => {
  it("any chunking of handshake + frames yields the same handshake and frames", () => {
    fc.assert(
      fc.property(arbStream, ({ payloads, chunks }) => {
        const framer = makeFramer({ maxFrameLength: 1024 })
        let hs: Uint8Array | undefined
        const frames: Array<Uint8Array> = []
        for (const chunk of chunks) {
          framer.push(chunk)
          if (hs === undefined) {
            const r = framer.takeHandshake()
            if (Result.isFailure(r)) throw new Error(r.failure.message)
            if (r.success === undefined) continue
            hs = concat([Uint8Array.of(19), new TextEncoder().encode("BitTorrent protocol"), r.success.reserved, r.success.infoHash, r.success.peerId])
          }
          frames.push(...drain(framer))
        }
        assert.strictEqual(hex(hs ?? new Uint8Array(0)), hex(handshake))
        assert.deepStrictEqual(frames.map(hex), payloads.map(hex))
        assert.strictEqual(framer.buffered(), 0)
      }),
      { numRuns: 500 }
    )
  })

  it("the 48-byte header can be read before the peer id arrives", () => {
    fc.assert(
      fc.property(arbStream, ({ payloads, chunks }) => {
        const framer = makeFramer({ maxFrameLength: 1024 })
        let infoHash: Uint8Array | undefined
        let peerId: Uint8Array | undefined
        const frames: Array<Uint8Array> = []
        for (const chunk of chunks) {
          framer.push(chunk)
          if (infoHash === undefined) {
            const r = framer.takeHandshakeHeader()
            if (Result.isFailure(r)) throw new Error(r.failure.message)
            if (r.success === undefined) continue
            infoHash = r.success.infoHash
          }
          if (peerId === undefined) {
            peerId = framer.take(20)
            if (peerId === undefined) continue
          }
          frames.push(...drain(framer))
        }
        assert.strictEqual(hex(infoHash ?? new Uint8Array(0)), "aa".repeat(20))
        assert.strictEqual(new TextDecoder().decode(peerId), "-ET0001-abcdefghijkl")
        assert.deepStrictEqual(frames.map(hex), payloads.map(hex))
      }),
      { numRuns: 300 }
    )
  })

  it("feed() per chunk, one byte at a time", () => {
    const payloads = [new Uint8Array(0), Uint8Array.of(2), Uint8Array.of(4, 0, 0, 0, 9), new Uint8Array(300).fill(7)]
    const stream = concat(payloads.map(prefixed))
    const framer = makeFramer({ maxFrameLength: 1024 })
    const frames: Array<Uint8Array> = []
    for (let i = 0; i < stream.length; i++) {
      const r = framer.feed(stream.subarray(i, i + 1))
      assert.isTrue(Result.isSuccess(r))
      if (Result.isSuccess(r)) frames.push(...r.success)
    }
    assert.deepStrictEqual(frames.map(hex), payloads.map(hex))
  })

  it("many frames in one chunk come back in one feed()", () => {
    const msgs = Array.from({ length: 100 }, (_, i) => encodeMessage({ _tag: "Have", index: i }))
    const r = makeFramer({ maxFrameLength: 16 }).feed(concat(msgs))
    assert.isTrue(Result.isSuccess(r) && r.success.length === 100)
  })
})

describe("wire framer: zero-copy", () => {
  it("a frame inside one chunk is a view; the decoded piece block shares the chunk's buffer", () => {
    const block = new Uint8Array(16384).fill(0x5a)
    const chunk = concat([Uint8Array.of(0, 0, 0, 0), encodeMessage({ _tag: "Piece", index: 3, begin: 0, block })])
    const framer = makeFramer({ maxFrameLength: 16384 + 9 })
    const r = framer.feed(chunk)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    const [keepAlive, frame] = r.success
    assert.strictEqual(keepAlive?.length, 0)
    assert.strictEqual(frame?.buffer, chunk.buffer)
    const msg = decodeFrame(frame ?? new Uint8Array(0))
    assert.isTrue(Result.isSuccess(msg) && msg.success._tag === "Piece")
    if (Result.isSuccess(msg) && msg.success._tag === "Piece") {
      assert.strictEqual(msg.success.block.buffer, chunk.buffer)
      assert.strictEqual(msg.success.block.byteOffset, 4 + 4 + 9)
      assert.strictEqual(msg.success.block.length, 16384)
    }
  })

  it("a frame spanning chunks is assembled into a buffer of exactly its length", () => {
    const wire = encodeMessage({ _tag: "Piece", index: 1, begin: 0, block: new Uint8Array(1000).fill(1) })
    const framer = makeFramer({ maxFrameLength: 2000 })
    const a = wire.slice(0, 500)
    const b = wire.slice(500)
    assert.isTrue(Result.isSuccess(framer.feed(a)) && framer.buffered() === 496)
    const r = framer.feed(b)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isFailure(r)) return
    const frame = r.success[0]
    assert.strictEqual(frame?.length, 1009)
    assert.strictEqual(frame?.buffer.byteLength, 1009)
    assert.notStrictEqual(frame?.buffer, a.buffer)
    assert.notStrictEqual(frame?.buffer, b.buffer)
  })

  it("a prefix split across chunks still yields a view when the payload sits in one chunk", () => {
    const payload = Uint8Array.of(4, 0, 0, 0, 1)
    const framer = makeFramer({ maxFrameLength: 16 })
    framer.push(Uint8Array.of(0, 0))
    const rest = concat([Uint8Array.of(0, 5), payload])
    framer.push(rest)
    const r = framer.next()
    assert.isTrue(Result.isSuccess(r) && r.success?.buffer === rest.buffer)
  })
})

const FOUR_GIB = Uint8Array.of(0xff, 0xff, 0xff, 0xff)

describe("wire framer: hostile lengths", () => {
  it("a 4 GiB length prefix fails at once with FrameTooLarge, without allocating", () => {
    const before = process.memoryUsage().arrayBuffers
    const framer = makeFramer({ maxFrameLength: 1 << 20 })
    const r = framer.feed(FOUR_GIB)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.reason, "FrameTooLarge")
      assert.strictEqual(r.failure.message, "frame length 4294967295 exceeds the limit of 1048576 bytes")
      assert.isFalse(r.failure.recoverable)
    }
    // sticky: the stream cannot be resynchronised
    assert.isTrue(Result.isFailure(framer.feed(Uint8Array.of(0, 0, 0, 0))))
    assert.isBelow(process.memoryUsage().arrayBuffers - before, 1 << 20)
  })

  it("the limit applies when the prefix arrives one byte at a time", () => {
    const framer = makeFramer({ maxFrameLength: 100 })
    const prefix = Uint8Array.of(0, 0, 0, 101)
    for (let i = 0; i < 3; i++) {
      const r = framer.feed(prefix.subarray(i, i + 1))
      assert.isTrue(Result.isSuccess(r) && r.success.length === 0)
    }
    const r = framer.feed(prefix.subarray(3))
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "FrameTooLarge")
    // exactly at the limit is fine
    const ok = makeFramer({ maxFrameLength: 100 }).feed(prefixed(new Uint8Array(100)))
    assert.isTrue(Result.isSuccess(ok) && ok.success[0]?.length === 100)
  })

  it("an accepted but unfinished frame allocates nothing until its last byte", () => {
    const framer = makeFramer({ maxFrameLength: 2 ** 32 })
    const before = process.memoryUsage().arrayBuffers
    const r = framer.feed(concat([FOUR_GIB, new Uint8Array(10)]))
    assert.isTrue(Result.isSuccess(r) && r.success.length === 0)
    assert.strictEqual(framer.buffered(), 10)
    assert.isBelow(process.memoryUsage().arrayBuffers - before, 1 << 20)
  })

  it("a bad handshake is rejected on its first bytes", () => {
    const framer = makeFramer()
    framer.push(Uint8Array.of(19, 0x42, 0x69, 0x74, 0x58)) // "BitX"
    const r = framer.takeHandshake()
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "BadHandshake")
    const http = makeFramer()
    http.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"))
    const h = http.takeHandshakeHeader()
    assert.isTrue(Result.isFailure(h) && h.failure.message === "handshake: pstrlen must be 19, got 71")
  })

  it("random bytes never throw: frames or a typed error", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 20 }),
        fc.boolean(),
        (chunks, handshakeFirst) => {
          const framer = makeFramer({ maxFrameLength: 64 })
          let inHandshake = handshakeFirst
          for (const chunk of chunks) {
            framer.push(chunk)
            if (inHandshake) {
              const h = framer.takeHandshake()
              if (Result.isFailure(h)) {
                assert.strictEqual(h.failure.reason, "BadHandshake")
                return
              }
              if (h.success === undefined) continue
              inHandshake = false
            }
            while (true) {
              const r = framer.next()
              if (Result.isFailure(r)) {
                assert.strictEqual(r.failure.reason, "FrameTooLarge")
                return
              }
              if (r.success === undefined) break
              assert.isAtMost(r.success.length, 64)
              const m = decodeFrame(r.success)
              if (Result.isFailure(m)) assert.strictEqual(m.failure._tag, "WireError")
            }
          }
        }
      ),
      { numRuns: 2000 }
    )
  })
})

const drainMessages = (framer: Framer): Array<Message> => drainWith(() => framer.nextMessage())

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.constant<Message>({ _tag: "Unchoke" }),
  fc.nat().map((index): Message => ({ _tag: "Have", index })),
  fc.record({ index: fc.nat(), begin: fc.nat(), length: fc.integer({ min: 1, max: 16384 }) })
    .map(({ index, begin, length }): Message => ({ _tag: "Request", index, begin, length })),
  fc.record({ index: fc.nat(), begin: fc.nat(), block: fc.uint8Array({ maxLength: 300 }) })
    .map(({ index, begin, block }): Message => ({ _tag: "Piece", index, begin, block }))
)

describe("wire framer: nextMessage", () => {
  it("any chunking yields the messages next() + decodeFrame() yield", () => {
    fc.assert(
      fc.property(
        fc.array(arbMessage, { maxLength: 15 }).chain((messages) =>
          arbChunking(concat(messages.map(encodeMessage))).map((chunks) => ({ messages, chunks }))
        ),
        ({ messages, chunks }) => {
          const framer = makeFramer()
          const got: Array<Message> = []
          for (const c of chunks) {
            framer.push(c)
            got.push(...drainMessages(framer))
          }
          assert.deepStrictEqual(got.map(normalise), messages.map(normalise))
          assert.strictEqual(framer.buffered(), 0)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("a block written after its header, as a separate buffer, arrives as a view of that buffer", () => {
    const block = new Uint8Array(16384).fill(7)
    const header = encodePieceHeader(5, 32768, block.length)
    const framer = makeFramer()
    // the header may itself arrive split, behind other messages
    const before = concat([encodeMessage({ _tag: "Have", index: 1 }), header.subarray(0, 6)])
    framer.push(before)
    framer.push(header.subarray(6))
    framer.push(block)
    const [have, piece] = drainMessages(framer)
    assert.deepStrictEqual(have, { _tag: "Have", index: 1 })
    assert.isTrue(piece?._tag === "Piece")
    if (piece?._tag !== "Piece") return
    assert.strictEqual(piece.index, 5)
    assert.strictEqual(piece.begin, 32768)
    assert.strictEqual(piece.block.buffer, block.buffer)
    assert.strictEqual(piece.block.length, 16384)
  })

  it("an unknown message id is a recoverable error, and the next message still decodes", () => {
    const framer = makeFramer()
    framer.push(concat([prefixed(Uint8Array.of(99, 1, 2)), encodeMessage({ _tag: "Have", index: 9 })]))
    const first = framer.nextMessage()
    assert.isTrue(Result.isFailure(first) && first.failure.recoverable)
    assert.deepStrictEqual(drainMessages(framer), [{ _tag: "Have", index: 9 }])
  })
})

/** Piece blocks compared by content (a view and a copy are the same message). */
const normalise = (m: Message): unknown => (m._tag === "Piece" ? { ...m, block: Array.from(m.block) } : m)

describe("wire framer: keepRest (chunks lent from a reused read buffer)", () => {
  const arbKept: fc.Arbitrary<Message> = fc.oneof(
    arbMessage,
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bits): Message => ({ _tag: "Bitfield", bits })),
    fc.record({ id: fc.integer({ min: 1, max: 255 }), payload: fc.uint8Array({ maxLength: 300 }) })
      .map(({ id, payload }): Message => ({ _tag: "Extended", id, payload }))
  )

  it("any chunking through one buffer, scribbled over after every keepRest, yields the same messages", () => {
    fc.assert(
      fc.property(
        fc.array(arbKept, { maxLength: 15 }).chain((messages) =>
          arbChunking(concat(messages.map(encodeMessage))).map((chunks) => ({ messages, chunks }))
        ),
        ({ messages, chunks }) => {
          const framer = makeFramer()
          const readBuffer = new Uint8Array(1024)
          // a piece's block is valid until the next keepRest: read at once; other messages are kept as they are
          const got: Array<unknown> = []
          for (const c of chunks) {
            readBuffer.set(c)
            framer.pushLent(readBuffer.subarray(0, c.length))
            for (const m of drainMessages(framer)) got.push(m._tag === "Piece" ? normalise(m) : m)
            framer.keepRest()
            readBuffer.fill(0xee)
          }
          assert.deepStrictEqual(got, messages.map(normalise))
          assert.strictEqual(framer.buffered(), 0)
        }
      ),
      { numRuns: 500 }
    )
  })

  it("a frame that stays unfinished over several reads keeps its first bytes", () => {
    const block = new Uint8Array(3000).map((_, i) => i % 251)
    const bytes = encodeMessage({ _tag: "Piece", index: 2, begin: 16384, block })
    const framer = makeFramer()
    const readBuffer = new Uint8Array(700)
    for (let at = 0; at < bytes.length; at += 700) {
      const part = bytes.subarray(at, Math.min(at + 700, bytes.length))
      readBuffer.set(part)
      framer.pushLent(readBuffer.subarray(0, part.length))
      const [m] = drainMessages(framer)
      if (m !== undefined) {
        assert.deepStrictEqual(normalise(m), normalise({ _tag: "Piece", index: 2, begin: 16384, block }))
        assert.strictEqual(at + 700 >= bytes.length, true, "complete only with its last bytes")
      }
      framer.keepRest()
      readBuffer.fill(0)
    }
    assert.strictEqual(framer.buffered(), 0)
  })
})
