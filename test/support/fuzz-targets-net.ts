/**
 * Fuzz targets, part 2: KRPC, HTTP and UDP tracker replies, the MSE responder and uTP
 * packets (see fuzz.ts for what counts as a crash or a hang).
 */
import { Result } from "effect"
import * as fc from "fast-check"
import { encode } from "../../src/bencode/index.ts"
import { decodeMessage, encodeError, encodeQuery, encodeResponse, MAX_TRANSACTION_ID } from "../../src/dht/krpc.ts"
import { CRYPTO_PLAINTEXT, CRYPTO_RC4, makeInitiator, makeResponder, type MseStep, req2 } from "../../src/mse/index.ts"
import { encodeCompactList } from "../../src/net/address.ts"
import * as HttpCodec from "../../src/tracker/http-codec.ts"
import { MAX_PEERS_PER_RESPONSE } from "../../src/tracker/types.ts"
import * as UdpCodec from "../../src/tracker/udp-codec.ts"
import { decodePacket, HEADER_SIZE, writeHeader } from "../../src/utp/codec.ts"
import type { FuzzTarget } from "./fuzz.ts"
import { invariant } from "./fuzz-targets.ts"

const hash20 = fc.uint8Array({ minLength: 20, maxLength: 20 })
const peer4 = fc.record({ host: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) })
const peer6 = fc.record({ host: fc.ipV6(), port: fc.integer({ min: 1, max: 65535 }) })
const tid = fc.uint8Array({ minLength: 1, maxLength: 4 })

export const krpcTarget: FuzzTarget = {
  name: "krpc",
  samples: fc.oneof(
    fc.tuple(tid, hash20, fc.oneof(
      fc.constant({ method: "ping" as const }),
      fc.record({ method: fc.constant("find_node" as const), target: hash20 }),
      fc.record({ method: fc.constant("get_peers" as const), infoHash: hash20 }),
      fc.record({ method: fc.constant("announce_peer" as const), infoHash: hash20, port: fc.integer({ min: 1, max: 65535 }), token: fc.uint8Array({ maxLength: 8 }), impliedPort: fc.boolean() })
    )).map(([t, id, body]) => encodeQuery(t, id, body)),
    fc.tuple(tid, hash20, fc.array(fc.record({ id: hash20, address: peer4 }), { maxLength: 8 }), fc.array(peer4, { maxLength: 8 }), fc.option(fc.uint8Array({ maxLength: 8 }), { nil: undefined }))
      .map(([t, id, nodes, values, token]) => encodeResponse(t, id, { nodes, values, ...(token === undefined ? {} : { token }) })),
    fc.tuple(tid, fc.integer({ min: 200, max: 204 }), fc.string({ maxLength: 20 })).map(([t, code, msg]) => encodeError(t, code, msg))
  ),
  run: (input) => {
    const r = decodeMessage(input)
    if (Result.isSuccess(r)) invariant(r.success.t.length >= 1 && r.success.t.length <= MAX_TRANSACTION_ID, "transaction id bounded")
  }
}

const checkPeers = (peers: ReadonlyArray<{ readonly host: string; readonly port: number }>) => {
  invariant(peers.length <= MAX_PEERS_PER_RESPONSE, "at most MAX_PEERS_PER_RESPONSE peers")
  invariant(peers.every((p) => Number.isInteger(p.port) && p.port >= 0 && p.port < 65536 && p.host.length > 0), "peers well formed")
}

export const httpTrackerTarget: FuzzTarget = {
  name: "http-tracker",
  maxRandomLength: 1024,
  samples: fc.oneof(
    fc.record({
      interval: fc.nat(7200),
      "min interval": fc.option(fc.nat(600), { nil: undefined }),
      complete: fc.option(fc.nat(1000), { nil: undefined }),
      incomplete: fc.option(fc.nat(1000), { nil: undefined }),
      peers: fc.oneof(
        fc.array(peer4, { maxLength: 10 }).map((ps) => encodeCompactList(ps, 4)),
        fc.array(fc.record({ ip: fc.ipV4(), port: fc.nat(65535), "peer id": hash20 }), { maxLength: 5 })
      ),
      peers6: fc.option(fc.array(peer6, { maxLength: 4 }).map((ps) => encodeCompactList(ps, 6)), { nil: undefined }),
      "warning message": fc.option(fc.string({ maxLength: 20 }), { nil: undefined })
    }).map((d) => encode(d)),
    fc.string({ maxLength: 30 }).map((reason) => encode({ "failure reason": reason }))
  ),
  run: (input) => {
    const r = HttpCodec.parseAnnounce(input)
    if (Result.isSuccess(r)) {
      checkPeers(r.success.peers)
      invariant(r.success.interval >= 0, "non-negative interval")
    }
    HttpCodec.parseScrape(input, [new Uint8Array(20)])
  }
}

const udpReply = (action: number, transactionId: number, body: Uint8Array) => {
  const out = new Uint8Array(8 + body.length)
  const v = new DataView(out.buffer)
  v.setUint32(0, action)
  v.setUint32(4, transactionId)
  out.set(body, 8)
  return out
}

export const udpTrackerTarget: FuzzTarget = {
  name: "udp-tracker",
  samples: fc.oneof(
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 8, maxLength: 8 })).map(([t, id]) => udpReply(UdpCodec.ACTION_CONNECT, t, id)),
    fc.tuple(fc.nat(), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.array(peer4, { maxLength: 10 }))
      .map(([t, counts, ps]) => udpReply(UdpCodec.ACTION_ANNOUNCE, t, Buffer.concat([counts, encodeCompactList(ps, 4)]))),
    fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 36 })).map(([t, entries]) => udpReply(UdpCodec.ACTION_SCRAPE, t, entries)),
    fc.tuple(fc.nat(), fc.string({ maxLength: 30 })).map(([t, m]) => udpReply(UdpCodec.ACTION_ERROR, t, new TextEncoder().encode(m)))
  ),
  run: (input) => {
    UdpCodec.responseHeader(input)
    UdpCodec.parseConnect(input)
    for (const ipv6 of [false, true]) {
      const a = UdpCodec.parseAnnounce(input, ipv6)
      if ("peers" in a) checkPeers(a.peers)
    }
    const s = UdpCodec.parseScrape(input, [new Uint8Array(20), new Uint8Array(20).fill(1)])
    if (Array.isArray(s)) invariant(s.length <= 2, "one entry per requested hash at most")
  }
}

// ---- MSE: a responder fed whole openings, valid ones (then mutated) from a real initiator

const SKEY = new Uint8Array(20).fill(7)
const RESPONDER_KEY = new Uint8Array(20).fill(3)
/** HASH('req2', SKEY): how the responder recognises the torrent. */
const SKEY_REQ2 = req2(SKEY)
/** The most a handshake can ask for: Ya, PadA, the sync hash, SKEY, VC, provide, PadC, IA. */
const MSE_BOUND = 96 + 512 + 20 + 20 + 8 + 4 + 2 + 512 + 2 + 0xffff
const FEED = 1024
const FILLER = new Uint8Array(MSE_BOUND + 1)

const responder = () =>
  makeResponder({
    privateKey: RESPONDER_KEY,
    padB: new Uint8Array(0),
    padD: new Uint8Array(0),
    findSkey: (h) => (Buffer.compare(h, SKEY_REQ2) === 0 ? SKEY : undefined),
    select: (provide) => (provide & CRYPTO_RC4 ? CRYPTO_RC4 : provide & CRYPTO_PLAINTEXT)
  })

/** What an honest initiator sends a responder that answers with Yb and no PadB. */
const initiatorStream = fc.record({
  privateKey: fc.uint8Array({ minLength: 20, maxLength: 20 }),
  padA: fc.uint8Array({ maxLength: 64 }),
  padC: fc.uint8Array({ maxLength: 16 }),
  provide: fc.integer({ min: 1, max: 3 }),
  ia: fc.uint8Array({ maxLength: 80 })
}).map((p) => {
  const init = makeInitiator({ ...p, skey: SKEY })
  const reply = responder().receive(init.opening.slice())
  const answer = reply._tag === "Failed" ? [] : reply.send.map((b) => b.slice())
  const step3 = answer.flatMap((b) => {
    const s = init.machine.receive(b)
    return s._tag === "Failed" ? [] : [...s.send]
  })
  return Buffer.concat([init.opening, ...step3])
})

export const mseResponderTarget: FuzzTarget = {
  name: "mse-responder",
  maxRandomLength: 1024,
  samples: initiatorStream,
  run: (input) => {
    const m = responder()
    let fed = 0
    let step: MseStep = { _tag: "Continue", send: [] }
    // The opening as it came (cut by its first byte), then zero filler: a
    // responder must end (done or failed) within the bound, whatever it was fed
    const cut = 1 + (input[0] ?? 0) * 4
    for (let at = 0; at < input.length && step._tag === "Continue"; at += cut) {
      const chunk = input.subarray(at, at + cut)
      fed += chunk.length
      step = m.receive(chunk)
    }
    // A little filler ends most openings (the sync hash is missing); the rest get all
    // they could ask for at once. The filler's content is irrelevant: decrypting in place
    // may scribble on the shared buffer.
    if (step._tag === "Continue") {
      fed += FEED
      step = m.receive(FILLER.subarray(0, FEED))
    }
    if (step._tag === "Continue") step = m.receive(FILLER.subarray(0, MSE_BOUND - fed + 1))
    invariant(step._tag !== "Continue", `the responder ends within ${MSE_BOUND} bytes (still waiting for ${m.phase()})`)
  }
}

export const utpTarget: FuzzTarget = {
  name: "utp",
  samples: fc.record({
    type: fc.nat(4),
    connectionId: fc.nat(0xffff),
    timestamp: fc.nat(),
    timestampDiff: fc.nat(),
    wndSize: fc.nat(),
    seqNr: fc.nat(0xffff),
    ackNr: fc.nat(0xffff),
    sack: fc.option(fc.uint8Array({ minLength: 4, maxLength: 8 }), { nil: undefined }),
    payload: fc.uint8Array({ maxLength: 64 })
  }).map((h) => {
    const ext = h.sack === undefined ? 0 : 2 + h.sack.length
    const out = new Uint8Array(HEADER_SIZE + ext + h.payload.length)
    writeHeader(out, 0, h, h.sack === undefined ? 0 : 1)
    if (h.sack !== undefined) {
      out[HEADER_SIZE] = 0
      out[HEADER_SIZE + 1] = h.sack.length
      out.set(h.sack, HEADER_SIZE + 2)
    }
    out.set(h.payload, HEADER_SIZE + ext)
    return out
  }),
  run: (input) => {
    const r = decodePacket(input)
    if (Result.isFailure(r)) return
    invariant(r.success.payloadOffset <= input.length, "payload inside the datagram")
    invariant(r.success.payload.buffer === input.buffer, "payload is a view")
  }
}
