/**
 * Fuzz targets, part 1: bencode, metainfo, magnet links and the peer wire (frames, the
 * framer, handshakes, extended handshakes, ut_metadata, ut_pex). Each target's `run`
 * throws when a decoder throws or breaks an invariant it promises (see fuzz.ts).
 */
import { Result } from "effect"
import * as fc from "fast-check"
import { type BencodeValue, decode, decodePrefix, encode, keyFromBytes } from "../../src/bencode/index.ts"
import { formatMagnet, parseInfoDictResult, parseMagnetResult, parseMetainfoResult } from "../../src/metainfo/index.ts"
import {
  decodeExtendedHandshake,
  decodeFrame,
  decodeHandshake,
  decodeUtMetadata,
  decodeUtPex,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodeUtMetadata,
  encodeUtPex,
  makeFramer,
  type Message,
  PEX_MAX_PEERS
} from "../../src/wire/index.ts"
import type { FuzzTarget } from "./fuzz.ts"

export const invariant = (ok: boolean, what: string): void => {
  if (!ok) throw new Error(`invariant broken: ${what}`)
}

const bytesEq = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0
const latin1 = new TextDecoder("latin1")
const ascii = (max: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max })

const { value: bencodeValue } = fc.letrec<{ value: BencodeValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer({ min: -1000, max: 1000 }),
    fc.maxSafeInteger(),
    fc.uint8Array({ maxLength: 24 }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.uint8Array({ maxLength: 6 }).map(keyFromBytes), tie("value"), { maxKeys: 5, noNullPrototype: true })
  )
}))

export const bencodeTarget: FuzzTarget = {
  name: "bencode",
  samples: bencodeValue.map((v) => encode(v)),
  run: (input) => {
    const r = decodePrefix(input)
    if (Result.isFailure(r)) return
    // A decoded value re-encodes canonically: equal to the input when its keys were sorted
    const { value, end, unsorted } = r.success
    invariant(end > 0 && end <= input.length, "end inside the input")
    if (unsorted.length === 0) invariant(bytesEq(encode(value), input.subarray(0, end)), "decode then encode gives the input back")
    const whole = decode(input)
    invariant(Result.isSuccess(whole) === (end === input.length), "decode accepts exactly the inputs without trailing bytes")
  }
}

const pathPart = ascii(12).filter((s) => s.length > 0 && s !== "." && s !== "..")
const infoDict = fc.record({
  name: pathPart,
  pieceLength: fc.constantFrom(16384, 32768, 262144),
  files: fc.option(fc.array(fc.record({ path: fc.array(pathPart, { minLength: 1, maxLength: 3 }), length: fc.nat(100_000) }), { minLength: 1, maxLength: 4 }), { nil: undefined }),
  length: fc.nat(200_000),
  private: fc.option(fc.constant(1), { nil: undefined })
}).map(({ name, pieceLength, files, length, private: priv }) => {
  const total = files === undefined ? length : files.reduce((n, f) => n + f.length, 0)
  const pieces = new Uint8Array(20 * Math.ceil(total / pieceLength))
  return files === undefined
    ? { name, "piece length": pieceLength, length, pieces, private: priv }
    : { name, "piece length": pieceLength, files: files.map((f) => ({ length: f.length, path: f.path })), pieces, private: priv }
})

export const metainfoTarget: FuzzTarget = {
  name: "metainfo",
  maxRandomLength: 1024,
  samples: fc.record({ info: infoDict, announce: fc.option(ascii(30).map((s) => `http://t.test/${s}`), { nil: undefined }), comment: fc.option(ascii(20), { nil: undefined }) })
    .map((top) => encode(top)),
  run: (input) => {
    const r = parseMetainfoResult(input)
    if (Result.isSuccess(r)) {
      const m = r.success
      invariant(m.pieceLength > 0 && m.totalSize >= 0, "positive piece length, non-negative size")
      invariant(m.files.reduce((n, f) => n + f.length, 0) === m.totalSize, "file lengths add up")
    }
    // The same bytes as a bare info dict (BEP 9), as a peer would send them
    parseInfoDictResult(input)
  }
}

const hash20 = fc.uint8Array({ minLength: 20, maxLength: 20 })
export const magnetTarget: FuzzTarget = {
  name: "magnet",
  samples: fc.record({
    infoHash: fc.option(hash20, { nil: null }),
    infoHashV2: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null }),
    name: fc.option(fc.string({ maxLength: 20 }), { nil: null }),
    trackers: fc.array(ascii(20).map((s) => `udp://t.test:6969/${s}`), { maxLength: 3 }),
    webSeeds: fc.array(ascii(20).map((s) => `http://w.test/${s}`), { maxLength: 2 }),
    peers: fc.array(fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) }), { maxLength: 3 }),
    selectOnly: fc.option(fc.uniqueArray(fc.nat(2000), { maxLength: 6 }).map((a) => a.sort((x, y) => x - y)), { nil: null })
  }).map((m) => new TextEncoder().encode(formatMagnet(m))),
  run: (input) => {
    const r = parseMagnetResult(latin1.decode(input))
    if (Result.isFailure(r)) return
    const m = r.success
    invariant(m.infoHash !== null || m.infoHashV2 !== null, "a magnet names a torrent")
    invariant(m.infoHash === null || m.infoHash.length === 20, "v1 hash of 20 bytes")
    invariant(m.peers.every((p) => p.port > 0 && p.port < 65536), "peer ports in range")
    // What we write, we read back the same
    const again = parseMagnetResult(formatMagnet(m))
    invariant(Result.isSuccess(again), "formatMagnet output parses")
  }
}

const u32 = fc.nat({ max: 0xffffffff })
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>({ _tag: "KeepAlive" }, { _tag: "Choke" }, { _tag: "Unchoke" }, { _tag: "Interested" }, { _tag: "NotInterested" }, { _tag: "HaveAll" }, { _tag: "HaveNone" }),
  fc.record({ _tag: fc.constantFrom("Have" as const, "Suggest" as const, "AllowedFast" as const), index: u32 }),
  fc.record({ _tag: fc.constantFrom("Request" as const, "Cancel" as const, "Reject" as const), index: u32, begin: u32, length: u32 }),
  fc.record({ _tag: fc.constant("Bitfield" as const), bits: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({ _tag: fc.constant("Piece" as const), index: u32, begin: u32, block: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ _tag: fc.constant("Port" as const), port: fc.nat(65535) }),
  fc.record({ _tag: fc.constant("Extended" as const), id: fc.nat(255), payload: fc.uint8Array({ maxLength: 40 }) }),
  fc.record({
    _tag: fc.constantFrom("HashRequest" as const, "HashReject" as const),
    piecesRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    baseLayer: u32,
    index: u32,
    length: u32,
    proofLayers: u32
  }),
  fc.record({
    _tag: fc.constant("Hashes" as const),
    piecesRoot: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    baseLayer: u32,
    index: u32,
    length: u32,
    proofLayers: u32,
    hashes: fc.nat(4).map((n) => new Uint8Array(32 * n).fill(n))
  })
)

/** Frames without their length prefix: what the framer hands to `decodeFrame`. */
export const wireFrameTarget: FuzzTarget = {
  name: "wire-frame",
  samples: message.map((m) => encodeMessage(m).subarray(4)),
  run: (input) => {
    const r = decodeFrame(input)
    if (Result.isFailure(r)) return
    const back = encodeMessage(r.success)
    invariant(bytesEq(back.subarray(4), input), `${r.success._tag} re-encodes to the same frame`)
  }
}

const handshake = fc.record({ infoHash: hash20, peerId: hash20, reserved: fc.uint8Array({ minLength: 8, maxLength: 8 }) })
  .map((h) => encodeHandshake(h))

/** A connection's byte stream: a handshake then frames, cut into chunks by the input's first byte. */
export const wireStreamTarget: FuzzTarget = {
  name: "wire-stream",
  maxRandomLength: 2048,
  samples: fc.tuple(fc.nat(255), handshake, fc.array(message, { maxLength: 12 }))
    .map(([cut, h, ms]) => Buffer.concat([Uint8Array.of(cut), h, ...ms.map(encodeMessage)])),
  run: (input) => {
    const step = 1 + (input[0] ?? 0)
    const framer = makeFramer({ maxFrameLength: 1 << 16 })
    const stream = input.subarray(1)
    let shook = false
    let failed = false
    for (let at = 0; at < stream.length && !failed; at += step) {
      framer.push(stream.subarray(at, at + step))
      if (!shook) {
        const h = framer.takeHandshake()
        if (Result.isFailure(h)) return
        if (h.success === undefined) continue
        invariant(Result.isSuccess(decodeHandshake(encodeHandshake(h.success))), "a handshake read re-encodes")
        shook = true
      }
      for (let n = 0; n < 10_000; n++) {
        const m = framer.nextMessage()
        if (Result.isFailure(m)) {
          failed = true
          break
        }
        if (m.success === undefined) break
      }
      invariant(framer.buffered() <= stream.length, "buffered bytes never exceed what was received")
    }
  }
}

export const extendedTarget: FuzzTarget = {
  name: "extended",
  samples: fc.record({
    m: fc.dictionary(ascii(12), fc.nat(255), { maxKeys: 4 }),
    v: ascii(16),
    p: fc.integer({ min: 1, max: 65535 }),
    metadata_size: fc.nat(1 << 24),
    reqq: fc.nat(1000)
  }, { requiredKeys: ["m"] }).map((h) => encodeExtendedHandshake(h)),
  run: (input) => {
    decodeExtendedHandshake(input)
    decodeExtendedHandshake(input, { strict: true })
  }
}

export const utMetadataTarget: FuzzTarget = {
  name: "ut_metadata",
  samples: fc.oneof(
    fc.record({ _tag: fc.constantFrom("Request" as const, "Reject" as const), piece: fc.nat(100) }),
    fc.record({ _tag: fc.constant("Data" as const), piece: fc.nat(4), totalSize: fc.nat(100_000), data: fc.uint8Array({ maxLength: 200 }) })
  ).map((m) => encodeUtMetadata(m)),
  run: (input) => {
    const r = decodeUtMetadata(input)
    if (Result.isSuccess(r) && r.success._tag === "Data") {
      invariant(r.success.data.length <= 16384, "a data piece is at most 16 KiB")
      invariant(r.success.data.buffer === input.buffer, "data is a view of the payload")
    }
  }
}

const pexPeer = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) })
export const utPexTarget: FuzzTarget = {
  name: "ut_pex",
  samples: fc.record({ added: fc.array(pexPeer, { maxLength: 8 }), dropped: fc.array(pexPeer, { maxLength: 4 }) })
    .map((m) => encodeUtPex(m)),
  run: (input) => {
    const r = decodeUtPex(input)
    if (Result.isFailure(r)) return
    invariant(r.success.added.length <= PEX_MAX_PEERS && r.success.dropped.length <= PEX_MAX_PEERS, "peer counts bounded")
    invariant(r.success.added.every((p) => p.port >= 0 && p.port < 65536), "ports in range")
  }
}
