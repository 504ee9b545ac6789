/**
 * The uTP packet codec: header round trips, the extension chain, selective-ack bits,
 * sequence arithmetic across the 16-bit wrap, and fuzzing (random datagrams never throw
 * and never make the parser reach past the datagram).
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import fc from "fast-check"
import {
  decodePacket,
  emptyHeader,
  HEADER_SIZE,
  looksLikeUtp,
  parseInto,
  sackHas,
  seqAdd,
  seqDiff,
  seqLess,
  ST_DATA,
  ST_STATE,
  ST_SYN,
  writeHeader,
  writeSack
} from "../src/utp/codec.ts"

const u16 = fc.integer({ min: 0, max: 0xffff })
const u32 = fc.integer({ min: 0, max: 0xffffffff })
const fields = fc.record({
  type: fc.integer({ min: 0, max: 4 }),
  connectionId: u16,
  timestamp: u32,
  timestampDiff: u32,
  wndSize: u32,
  seqNr: u16,
  ackNr: u16
})

describe("uTP codec", () => {
  it("round-trips every header field, with or without a selective ack and payload", () => {
    fc.assert(fc.property(fields, fc.option(fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => {
      const padded = new Uint8Array(Math.ceil(b.length / 4) * 4)
      padded.set(b)
      return padded
    })), fc.uint8Array({ maxLength: 64 }), (h, sack, payload) => {
      const extBytes = sack === null ? 0 : 2 + sack.length
      const buf = new Uint8Array(HEADER_SIZE + extBytes + payload.length)
      writeHeader(buf, 0, h, sack === null ? 0 : 1)
      if (sack !== null) writeSack(buf, HEADER_SIZE, sack)
      buf.set(payload, HEADER_SIZE + extBytes)
      const decoded = decodePacket(buf)
      assert.isTrue(Result.isSuccess(decoded))
      if (Result.isFailure(decoded)) return
      const p = decoded.success
      assert.deepStrictEqual(
        [p.type, p.connectionId, p.timestamp, p.timestampDiff, p.wndSize, p.seqNr, p.ackNr],
        [h.type, h.connectionId, h.timestamp, h.timestampDiff, h.wndSize, h.seqNr, h.ackNr]
      )
      assert.deepStrictEqual(p.sack === undefined ? null : [...p.sack], sack === null ? null : [...sack])
      assert.deepStrictEqual([...p.payload], [...payload])
      assert.isTrue(looksLikeUtp(buf))
    }))
  })

  it("reads the selective-ack bitmask in BEP 29's bit order", () => {
    // byte 0 bit 0 = ack_nr + 2, byte 0 bit 7 = ack_nr + 9, byte 1 bit 0 = ack_nr + 10
    const mask = Uint8Array.of(0b1000_0001, 0b0000_0001, 0, 0)
    assert.deepStrictEqual([0, 1, 7, 8, 9, 31].map((i) => sackHas(mask, i)), [true, false, true, true, false, false])
  })

  it("skips unknown extensions and rejects chains that run past the datagram", () => {
    const buf = new Uint8Array(HEADER_SIZE + 6 + 3)
    writeHeader(buf, 0, { type: ST_DATA, connectionId: 1, timestamp: 0, timestampDiff: 0, wndSize: 0, seqNr: 5, ackNr: 4 }, 3)
    // extension 3 (libtorrent's close reason), 4 bytes, then no more
    buf.set([0, 4, 9, 9, 9, 9, 0xaa, 0xbb, 0xcc], HEADER_SIZE)
    const ok = decodePacket(buf)
    assert.isTrue(Result.isSuccess(ok) && ok.success.payload.length === 3 && ok.success.payload[0] === 0xaa)
    const truncated = buf.subarray(0, HEADER_SIZE + 4)
    const bad = decodePacket(truncated)
    assert.isTrue(Result.isFailure(bad) && bad.failure.reason === "BadExtension")
    assert.strictEqual(Result.isFailure(decodePacket(buf.subarray(0, 19))) && "TooShort", "TooShort")
  })

  it("tells uTP from KRPC and BEP 15 replies by shape", () => {
    const krpc = new TextEncoder().encode("d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:ping1:t2:aa1:y1:qe")
    const tracker = new Uint8Array(20) // action 0 (connect), big-endian: starts with a zero byte
    const syn = new Uint8Array(20)
    writeHeader(syn, 0, { type: ST_SYN, connectionId: 7, timestamp: 1, timestampDiff: 0, wndSize: 0, seqNr: 1, ackNr: 0 }, 0)
    assert.deepStrictEqual([looksLikeUtp(krpc), looksLikeUtp(tracker), looksLikeUtp(syn)], [false, false, true])
  })

  it("fuzz: random datagrams never throw and every view stays inside the datagram", () => {
    const header = emptyHeader()
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, forceUtp) => {
      if (forceUtp && bytes.length > 0) bytes[0] = ((bytes[0] ?? 0) & 0x70) | 1
      const reason = parseInto(bytes, header)
      if (reason !== undefined) return
      assert.isAtMost(header.payloadOffset, bytes.length)
      if (header.sack !== undefined) {
        assert.strictEqual(header.sack.buffer, bytes.buffer)
        assert.isAtMost(header.sack.byteOffset + header.sack.length, bytes.byteOffset + bytes.length)
      }
    }), { numRuns: 20_000 })
  })

  it("a valid header with a hostile extension chain (255 × 255-byte lengths) allocates nothing and fails cleanly", () => {
    const buf = new Uint8Array(HEADER_SIZE + 4)
    writeHeader(buf, 0, { type: ST_STATE, connectionId: 1, timestamp: 0, timestampDiff: 0, wndSize: 0, seqNr: 0, ackNr: 0 }, 1)
    buf.set([1, 255, 0, 0], HEADER_SIZE)
    const r = decodePacket(buf)
    assert.isTrue(Result.isFailure(r) && r.failure.reason === "BadExtension")
  })

  it("sequence numbers compare across the wrap", () => {
    fc.assert(fc.property(u16, fc.integer({ min: -32767, max: 32767 }), (a, d) => {
      const b = seqAdd(a, d)
      assert.strictEqual(seqDiff(b, a), d)
      assert.strictEqual(seqLess(a, b), d > 0)
    }))
    assert.strictEqual(seqDiff(2, 0xfffe), 4)
    assert.isTrue(seqLess(0xffff, 0))
  })
})
